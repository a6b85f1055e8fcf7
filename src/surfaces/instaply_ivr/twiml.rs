//! TwiML answers, written with quick-xml from typed values.
//!
//! The contract fixes the bytes: no XML declaration, no whitespace between
//! elements, and apostrophes left literal (quick-xml's default text escaping
//! would write `&apos;`, so text goes through `partial_escape`: `<`, `>`, `&`).

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::BytesText;

use crate::platform::domain::PhoneNumber;

/// One spoken sentence and its language (`en`, `fr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Say {
    pub language: &'static str,
    pub text: String,
}

impl Say {
    pub fn new(language: &'static str, text: impl Into<String>) -> Self {
        Self {
            language,
            text: text.into(),
        }
    }
}

/// What the caller hears: a transfer, or sentences read out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoiceResponse {
    Dial(PhoneNumber),
    Say(Vec<Say>),
}

impl VoiceResponse {
    /// The store exists but set no forwarding number.
    pub fn no_forwarding() -> Self {
        Self::Say(vec![
            Say::new("en", "Sorry, this store did not define voice call forwarding"),
            Say::new("fr", "Désolé, ce magasin n'a pas défini de numéro vocal"),
        ])
    }

    /// The called number is not a business number of the key's organization.
    pub fn not_linked() -> Self {
        Self::Say(vec![
            Say::new("en", "Sorry, this number is not linked to any store"),
            Say::new("fr", "Désolé, ce numéro n'est lié à aucun magasin"),
        ])
    }

    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new(Vec::with_capacity(256));
        writer
            .create_element("Response")
            .write_inner_content(|writer| {
                match self {
                    Self::Dial(number) => {
                        writer
                            .create_element("Dial")
                            .write_text_content(text(number.as_str()))?;
                    }
                    Self::Say(sentences) => {
                        for say in sentences {
                            writer
                                .create_element("Say")
                                .with_attribute(("language", say.language))
                                .write_text_content(text(&say.text))?;
                        }
                    }
                }
                Ok(())
            })
            .expect("writing to a Vec cannot fail");
        String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it was given")
    }
}

fn text(content: &str) -> BytesText<'_> {
    BytesText::from_escaped(partial_escape(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_matches_the_contract_bytes() {
        let number = PhoneNumber::parse("+14155550100", Default::default()).unwrap();
        assert_eq!(
            VoiceResponse::Dial(number).to_xml(),
            "<Response><Dial>+14155550100</Dial></Response>"
        );
    }

    #[test]
    fn say_outcomes_match_the_contract_bytes_with_a_literal_apostrophe() {
        assert_eq!(
            VoiceResponse::no_forwarding().to_xml(),
            "<Response><Say language=\"en\">Sorry, this store did not define voice call forwarding</Say><Say language=\"fr\">Désolé, ce magasin n'a pas défini de numéro vocal</Say></Response>"
        );
        assert_eq!(
            VoiceResponse::not_linked().to_xml(),
            "<Response><Say language=\"en\">Sorry, this number is not linked to any store</Say><Say language=\"fr\">Désolé, ce numéro n'est lié à aucun magasin</Say></Response>"
        );
    }

    #[test]
    fn configured_text_is_escaped() {
        let xml = VoiceResponse::Say(vec![Say::new("en", "<Hangup/> & \"quotes\" 'n' ]]>")]).to_xml();
        assert_eq!(
            xml,
            "<Response><Say language=\"en\">&lt;Hangup/&gt; &amp; \"quotes\" 'n' ]]&gt;</Say></Response>"
        );
    }
}
