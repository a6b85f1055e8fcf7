//! Closed vocabularies (outcomes, statuses, event kinds), each declared once:
//! an enum with `ALL`, `NAMES` and `as_str`, from which admin filters,
//! OpenAPI patterns and tests against CHECK constraints are derived.

/// Declares `enum Name { Variant => "text", … }` with `ALL` (every variant,
/// in order), `NAMES` (their texts) and `as_str`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];
            /// [`Self::ALL`]'s texts, in order.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }
    };
}

pub(crate) use vocabulary;
