//! A call to a Smartflo number, as TwiML: the IVR's recording and menu,
//! timeouts and invalid entries with their retries, recordings and
//! destinations, and a chosen option's webhook (how a Smartflo IVR reaches
//! the Instaply hook). Played by the call simulator or any Twilio-like player.

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::BytesText;
use sqlx::PgPool;

use super::ivr::Ivr;
use super::storage::{self, Answering};
use crate::platform::domain::{PhoneNumber, PhoneValidation};

/// Where a call stands in the IVR, carried in the action URLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct State {
    /// Timeouts so far.
    #[serde(default)]
    pub t: i64,
    /// Invalid entries so far.
    #[serde(default)]
    pub i: i64,
    /// Set on the Redirect that follows a Gather nobody answered.
    #[serde(default)]
    pub timedout: u8,
}

/// A TwiML verb this surface answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Twiml {
    Say(String),
    Gather {
        action: String,
        timeout: i64,
        prompts: Vec<String>,
    },
    Redirect(String),
    Dial(String),
    Record,
    Hangup,
}

pub fn render(verbs: &[Twiml]) -> String {
    let mut writer = Writer::new(Vec::with_capacity(256));
    writer
        .create_element("Response")
        .write_inner_content(|writer| {
            for verb in verbs {
                match verb {
                    Twiml::Say(said) => {
                        writer.create_element("Say").write_text_content(text(said))?;
                    }
                    Twiml::Gather {
                        action,
                        timeout,
                        prompts,
                    } => {
                        writer
                            .create_element("Gather")
                            .with_attribute(("numDigits", "1"))
                            .with_attribute(("timeout", timeout.to_string().as_str()))
                            .with_attribute(("action", action.as_str()))
                            .write_inner_content(|writer| {
                                for said in prompts {
                                    writer.create_element("Say").write_text_content(text(said))?;
                                }
                                Ok(())
                            })?;
                    }
                    Twiml::Redirect(url) => {
                        writer.create_element("Redirect").write_text_content(text(url))?;
                    }
                    Twiml::Dial(number) => {
                        writer.create_element("Dial").write_text_content(text(number))?;
                    }
                    Twiml::Record => {
                        writer.create_element("Record").write_empty()?;
                    }
                    Twiml::Hangup => {
                        writer.create_element("Hangup").write_empty()?;
                    }
                }
            }
            Ok(())
        })
        .expect("writing to a Vec cannot fail");
    String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it was given")
}

fn text(content: &str) -> BytesText<'_> {
    BytesText::from_escaped(partial_escape(content))
}

/// The call in progress: who calls which number, and what answers it.
pub struct Call<'a> {
    pub pool: &'a PgPool,
    pub client: &'a reqwest::Client,
    pub did: &'a str,
    pub caller: &'a str,
}

/// The TwiML for this step of the call.
pub async fn answer(call: &Call<'_>, state: State, digits: Option<&str>) -> sqlx::Result<Vec<Twiml>> {
    let not_in_service = || {
        vec![
            Twiml::Say("The number you have dialled is not in service.".into()),
            Twiml::Hangup,
        ]
    };
    // Only a well-formed number can be one of ours (and reach the database).
    if PhoneNumber::parse(call.did, PhoneValidation::Format).is_err() {
        return Ok(not_in_service());
    }
    let Some(answering) = storage::answering(call.pool, call.did).await? else {
        return Ok(not_in_service());
    };
    let ivr = &answering.ivr;
    let (pool, account) = (call.pool, answering.account_id);
    match (digits.filter(|d| !d.is_empty()), state.timedout == 1) {
        (None, false) => Ok(menu(
            call,
            ivr,
            state,
            vec![recording(pool, account, &ivr.recording).await?],
        )),
        (None, true) => {
            let state = State {
                t: state.t + 1,
                ..state
            };
            if state.t > ivr.timeout_retries {
                let mut verbs = vec![Twiml::Say(recording(pool, account, &ivr.timeout_recording).await?)];
                verbs.extend(destination(call, &answering, &ivr.timeout_dest_type, &ivr.timeout_destination).await?);
                return Ok(verbs);
            }
            let prompts = vec![
                recording(pool, account, &ivr.timeout_retry_recording).await?,
                recording(pool, account, &ivr.recording).await?,
            ];
            Ok(menu(call, ivr, state, prompts))
        }
        (Some(digits), _) => match ivr.ivr_menu.iter().find(|item| item.option == digits) {
            Some(item) => {
                if let Ok(webhook) = item.webhook_id.parse::<i64>()
                    && webhook != 0
                {
                    fire_webhook(call, &answering, webhook, digits).await?;
                }
                destination(call, &answering, &item.destination_type, &item.destination_id).await
            }
            None => {
                let state = State {
                    i: state.i + 1,
                    ..state
                };
                if state.i > ivr.invalid_retries {
                    let mut verbs = vec![Twiml::Say(
                        recording(pool, account, &ivr.invalid_recording.to_string()).await?,
                    )];
                    verbs.extend(
                        destination(
                            call,
                            &answering,
                            &ivr.invalid_destination_type,
                            &ivr.invalid_destination,
                        )
                        .await?,
                    );
                    return Ok(verbs);
                }
                let prompts = vec![
                    recording(pool, account, &ivr.invalid_retry_recording).await?,
                    recording(pool, account, &ivr.recording).await?,
                ];
                Ok(menu(call, ivr, state, prompts))
            }
        },
    }
}

/// The menu: a Gather, and where the call goes when nothing is pressed.
fn menu(call: &Call<'_>, ivr: &Ivr, state: State, prompts: Vec<String>) -> Vec<Twiml> {
    let base = format!("/smartflo/numbers/{}/voice", urlencode(call.did));
    vec![
        Twiml::Gather {
            action: format!("{base}?t={}&i={}", state.t, state.i),
            timeout: ivr.timeout,
            prompts,
        },
        Twiml::Redirect(format!("{base}?t={}&i={}&timedout=1", state.t, state.i)),
    ]
}

async fn recording(pool: &PgPool, account_id: i64, id: &str) -> sqlx::Result<String> {
    Ok(storage::recording_text(pool, account_id, id)
        .await?
        .unwrap_or_else(|| format!("(recording {id})")))
}

/// Where a call lands: a number dialled, a voicemail, or the end of the call.
async fn destination(call: &Call<'_>, answering: &Answering, kind: &str, id: &str) -> sqlx::Result<Vec<Twiml>> {
    Ok(match kind {
        "hangup" => vec![Twiml::Hangup],
        "voicemail" => vec![Twiml::Record, Twiml::Hangup],
        _ => match storage::destination_number(call.pool, answering.account_id, kind, id).await? {
            Some(number) => vec![Twiml::Dial(number)],
            None => vec![Twiml::Say(format!("The {kind} {id} cannot be reached.")), Twiml::Hangup],
        },
    })
}

/// Calls an option's webhook with the caller's and the called number (a GET;
/// `{caller}`, `{called}` and `{option}` in its URL are replaced). Its answer
/// does not change the call; a failure is logged.
async fn fire_webhook(call: &Call<'_>, answering: &Answering, webhook: i64, option: &str) -> sqlx::Result<()> {
    let Some(template) = storage::webhook_url(call.pool, answering.account_id, webhook).await? else {
        return Ok(());
    };
    let url = template
        .replace("{caller}", &urlencode(call.caller))
        .replace("{called}", &urlencode(call.did))
        .replace("{option}", &urlencode(option));
    match call.client.get(&url).send().await {
        Ok(response) => tracing::info!(
            webhook,
            ivr = answering.ivr_id,
            status = response.status().as_u16(),
            "Smartflo webhook called"
        ),
        Err(error) => tracing::warn!(webhook, ivr = answering.ivr_id, %error, "Smartflo webhook failed"),
    }
    Ok(())
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_is_written_from_typed_values_and_escaped() {
        let xml = render(&[
            Twiml::Gather {
                action: "/v?t=0&i=1".into(),
                timeout: 5,
                prompts: vec!["Press 1 <now> & then".into()],
            },
            Twiml::Redirect("/v?t=0&i=1&timedout=1".into()),
            Twiml::Dial("+14155550100".into()),
            Twiml::Hangup,
        ]);
        assert_eq!(
            xml,
            concat!(
                r#"<Response><Gather numDigits="1" timeout="5" action="/v?t=0&amp;i=1"><Say>Press 1 &lt;now&gt; &amp; then</Say></Gather>"#,
                r#"<Redirect>/v?t=0&amp;i=1&amp;timedout=1</Redirect><Dial>+14155550100</Dial><Hangup/></Response>"#
            )
        );
    }
}
