//! The Stripe API key: where it comes from, which mode it works in, and
//! keeping it out of everything the tool prints.

use std::fmt;
use std::path::Path;

use anyhow::Result;

use crate::exit::{Code, fail};

/// The environment variable holding the key.
pub const KEY_VARIABLE: &str = "STRIPE_API_KEY";

/// The prefixes of the keys that can read payments: secret and restricted
/// keys, in test or live mode. Publishable keys (`pk_`) cannot.
const PREFIXES: [(&str, Mode, bool); 4] = [
    ("sk_test_", Mode::Test, false),
    ("sk_live_", Mode::Live, false),
    ("rk_test_", Mode::Test, true),
    ("rk_live_", Mode::Live, true),
];

/// Test or live: a key sees only the objects of its own mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    /// The mode of an object from its `livemode` field.
    pub fn of(livemode: bool) -> Mode {
        if livemode { Mode::Live } else { Mode::Test }
    }

    /// `Test` or `Live`, as the Dashboard's exports write it.
    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_lowercase().as_str() {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// A Stripe secret (`sk_`) or restricted (`rk_`) key. Its `Debug` and
/// `Display` never show it; only the request's header reads it.
pub struct Key {
    secret: String,
    pub mode: Mode,
    pub restricted: bool,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} {})", self.kind(), self.mode.label())
    }
}

impl Key {
    /// The key from `--stripe-key-file`, else from `STRIPE_API_KEY`. Never
    /// from a command-line value: those end up in shell history and `ps`.
    pub fn load(file: Option<&Path>) -> Result<Key> {
        match file {
            Some(path) => Key::parse(&read_key_file(path)?, &format!("{}", path.display())),
            None => match std::env::var(KEY_VARIABLE) {
                Ok(value) if !value.trim().is_empty() => Key::parse(&value, KEY_VARIABLE),
                _ => Err(fail(
                    Code::Usage,
                    format!(
                        "no Stripe key: set {KEY_VARIABLE}, or give --stripe-key-file PATH \
                         (a file only you can read holding a secret or restricted key)"
                    ),
                )),
            },
        }
    }

    /// A key as written in `origin` (a file or the variable), checked for
    /// its prefix. The error names where it came from, never the key.
    pub fn parse(text: &str, origin: &str) -> Result<Key> {
        let secret = text.trim();
        let Some((_, mode, restricted)) = PREFIXES
            .iter()
            .find(|(prefix, _, _)| secret.starts_with(prefix) && secret.len() > prefix.len())
        else {
            let publishable = secret.starts_with("pk_");
            return Err(fail(
                Code::Usage,
                format!(
                    "the key in {origin} is not a Stripe secret or restricted key (it must start with \
                     sk_test_, sk_live_, rk_test_ or rk_live_){}",
                    if publishable {
                        "; a publishable key (pk_) cannot read payments"
                    } else {
                        ""
                    }
                ),
            ));
        };
        if secret
            .chars()
            .any(|c| !c.is_ascii_alphanumeric() && c != '_')
        {
            return Err(fail(
                Code::Usage,
                format!("the key in {origin} holds characters a Stripe key never has"),
            ));
        }
        Ok(Key {
            secret: secret.to_string(),
            mode: *mode,
            restricted: *restricted,
        })
    }

    /// What kind of key, for messages.
    pub fn kind(&self) -> &'static str {
        if self.restricted {
            "restricted key"
        } else {
            "secret key"
        }
    }

    /// The `Authorization` header's value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.secret)
    }

    /// `text` with this key, and anything shaped like a Stripe key (Stripe's
    /// own messages quote a masked key with its last characters), replaced.
    pub fn scrub(&self, text: &str) -> String {
        scrub(&text.replace(&self.secret, "[key]"))
    }
}

/// `text` with every Stripe key (or masked key) replaced by `[key]`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = next_key(rest) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
            .unwrap_or(tail.len());
        out.push_str("[key]");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next key-shaped word starts in `text`.
fn next_key(text: &str) -> Option<usize> {
    ["sk_", "rk_", "pk_"]
        .iter()
        .flat_map(|kind| {
            ["test_", "live_"].iter().filter_map(move |mode| {
                text.match_indices(kind)
                    .find(|(at, _)| text[at + kind.len()..].starts_with(mode))
                    .map(|(at, _)| at)
            })
        })
        .min()
}

/// The key file's contents, refused when group or others may read it (as
/// libpq refuses such a `.pgpass`): a key readable by others is leaked.
fn read_key_file(path: &Path) -> Result<String> {
    let unreadable = |error: &dyn fmt::Display| {
        fail(
            Code::Usage,
            format!(
                "could not read --stripe-key-file {}: {error}",
                path.display()
            ),
        )
    };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(&e))?;
    if !metadata.is_file() {
        return Err(unreadable(&"not a plain file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(fail(
                Code::Usage,
                format!(
                    "--stripe-key-file {} can be read by group or others (mode {:o}); \
                     restrict it with chmod 600 and make a new key if others may have read it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    std::fs::read_to_string(path).map_err(|e| unreadable(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_kinds_come_from_the_prefix() {
        let key = Key::parse("sk_test_abc123\n", "test").unwrap();
        assert_eq!((key.mode, key.restricted), (Mode::Test, false));
        let key = Key::parse("rk_live_XYZ", "test").unwrap();
        assert_eq!((key.mode, key.restricted), (Mode::Live, true));
        assert_eq!(format!("{key:?}"), "Key(restricted key live)");
    }

    #[test]
    fn other_keys_are_usage_errors_that_do_not_repeat_them() {
        for text in ["pk_test_abc", "sk_test_", "whsec_abc", "sk_test_ab cd", ""] {
            let error = Key::parse(text, "STRIPE_API_KEY").unwrap_err();
            assert_eq!(crate::exit::code_of(&error), Code::Usage, "{text}");
            if text.len() > "sk_test_".len() {
                assert!(!error.to_string().contains(text), "{error}");
            }
        }
    }

    #[test]
    fn scrub_removes_keys_and_masked_keys() {
        let key = Key::parse("sk_test_51Secret", "test").unwrap();
        assert_eq!(
            key.scrub("Invalid API Key provided: sk_test_********cret; also sk_test_51Secret."),
            "Invalid API Key provided: [key]; also [key]."
        );
        assert_eq!(
            scrub("The provided key 'rk_live_***abcd' lacks it"),
            "The provided key '[key]' lacks it"
        );
        assert_eq!(scrub("no key here: pi_123"), "no key here: pi_123");
    }
}
