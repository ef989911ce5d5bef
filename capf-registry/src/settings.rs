//! Registry settings: the service parameters shared by every server on one
//! registry (Unified CM's CAPF service parameters), stored in the registry
//! ([`Registry::settings`](crate::Registry::settings),
//! [`Registry::put_settings`](crate::Registry::put_settings)) and read by
//! `capf serve` at start, whose flags override them for one server.
//!
//! | name | meaning | default | range |
//! | --- | --- | --- | --- |
//! | `validity-days` | LSC validity, in days | 1825 | 1-3650 |
//! | `key-generation-timeout` | maximum key-generation time: seconds a phone gets to generate its key (KEY_GEN_RESPONSE) | 3600 | 1-86400 |
//! | `key-generation-retries` | maximum key-generation attempts: how many times the server asks again, in the same session, when the phone answers without a key (each with its own key-generation time; the RSA request of an EC-preferred key order is not counted) | 0 | 0-10 |
//! | `max-failed-attempts` | maximum attempts: a device is locked after this many failed authentications (0: never) | 5 | 0-1000 |
//! | `renew-used-share` | the renewal share: the server schedules the renewal of every LSC past this share of its lifetime (`off`: no automatic renewal) | off | (0, 1] |
//!
//! The names are those of `capf serve`'s flags. Every value is validated by
//! [`Settings::set`], the one place that parses a setting: the CLI, the
//! bindings and every backend go through it.

pub use crate::error::SettingError;
use crate::rules::RenewalPolicy;

/// The service parameters of one registry, with Unified CM-like defaults
/// ([`Settings::default`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Validity of issued LSCs, in days (1-3650).
    pub validity_days: u32,
    /// Maximum key-generation time, in seconds (1-86400).
    pub key_generation_timeout: u64,
    /// Key-generation requests repeated after a refusal, per session.
    pub key_generation_retries: u32,
    /// Failed authentications before a device is locked (0: never).
    pub max_failed_attempts: u32,
    /// The automatic renewal share (`None`: off).
    pub renew_used_share: Option<RenewalPolicy>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            validity_days: 1825,
            key_generation_timeout: 3600,
            key_generation_retries: 0,
            max_failed_attempts: 5,
            renew_used_share: None,
        }
    }
}

impl Settings {
    /// Every setting's name, in display order.
    pub const NAMES: [&'static str; 5] = [
        "validity-days",
        "key-generation-timeout",
        "key-generation-retries",
        "max-failed-attempts",
        "renew-used-share",
    ];

    /// Sets `name` to `value` (text as typed by an administrator), or says
    /// why not; nothing changes on an error.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SettingError> {
        let value = value.trim();
        let bad = |name: &'static str, expected: &'static str| SettingError::BadValue {
            name,
            value: value.to_owned(),
            expected,
        };
        match name {
            "validity-days" => {
                self.validity_days = value
                    .parse()
                    .ok()
                    .filter(|days| (1..=3650).contains(days))
                    .ok_or_else(|| bad("validity-days", "a number of days from 1 to 3650"))?;
            }
            "key-generation-timeout" => {
                self.key_generation_timeout = value
                    .parse()
                    .ok()
                    .filter(|seconds| (1..=86_400).contains(seconds))
                    .ok_or_else(|| {
                        bad(
                            "key-generation-timeout",
                            "a number of seconds from 1 to 86400",
                        )
                    })?;
            }
            "key-generation-retries" => {
                self.key_generation_retries = value
                    .parse()
                    .ok()
                    .filter(|count| *count <= 10)
                    .ok_or_else(|| bad("key-generation-retries", "a count from 0 to 10"))?;
            }
            "max-failed-attempts" => {
                self.max_failed_attempts = value
                    .parse()
                    .ok()
                    .filter(|count| *count <= 1000)
                    .ok_or_else(|| {
                        bad("max-failed-attempts", "a count from 0 (never lock) to 1000")
                    })?;
            }
            "renew-used-share" => {
                self.renew_used_share = if value.eq_ignore_ascii_case("off") {
                    None
                } else {
                    Some(RenewalPolicy::used_share(value).ok_or_else(|| {
                        bad(
                            "renew-used-share",
                            "a share above 0 and at most 1 (0.66), or off",
                        )
                    })?)
                };
            }
            _ => {
                return Err(SettingError::Unknown {
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The value of `name` as [`set`](Self::set) reads it back.
    pub fn get(&self, name: &str) -> Result<String, SettingError> {
        Ok(match name {
            "validity-days" => self.validity_days.to_string(),
            "key-generation-timeout" => self.key_generation_timeout.to_string(),
            "key-generation-retries" => self.key_generation_retries.to_string(),
            "max-failed-attempts" => self.max_failed_attempts.to_string(),
            "renew-used-share" => match self.renew_used_share {
                Some(RenewalPolicy::UsedShare { millionths }) => share_text(millionths),
                _ => "off".to_owned(),
            },
            _ => {
                return Err(SettingError::Unknown {
                    name: name.to_owned(),
                });
            }
        })
    }

    /// Every setting as `(name, value)` pairs, in [`NAMES`](Self::NAMES)
    /// order: what a backend stores.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        Self::NAMES
            .iter()
            .filter_map(|name| self.get(name).ok().map(|value| (*name, value)))
            .collect()
    }

    /// Settings from stored pairs over the defaults. A stored name this
    /// build does not know is skipped (a newer release may have written
    /// it); a stored value out of range is an error.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SettingError> {
        let mut settings = Self::default();
        for (name, value) in pairs {
            match settings.set(name, value) {
                Err(SettingError::Unknown { .. }) => {}
                other => other?,
            }
        }
        Ok(settings)
    }
}

/// A share in millionths as the shortest decimal (`660000` → `0.66`).
fn share_text(millionths: u32) -> String {
    let whole = millionths / 1_000_000;
    let fraction = millionths % 1_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_pairs() {
        let pairs = Settings::default().pairs();
        assert_eq!(
            pairs,
            vec![
                ("validity-days", "1825".to_owned()),
                ("key-generation-timeout", "3600".to_owned()),
                ("key-generation-retries", "0".to_owned()),
                ("max-failed-attempts", "5".to_owned()),
                ("renew-used-share", "off".to_owned()),
            ]
        );
        let back =
            Settings::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str()))).expect("valid");
        assert_eq!(back, Settings::default());
    }

    #[test]
    fn set_validates_and_changes_nothing_on_error() {
        let mut settings = Settings::default();
        settings
            .set("renew-used-share", "0.66")
            .expect("valid share");
        assert_eq!(
            settings.renew_used_share,
            Some(RenewalPolicy::UsedShare {
                millionths: 660_000
            })
        );
        assert_eq!(settings.get("renew-used-share").unwrap(), "0.66");
        settings.set("validity-days", "30").expect("valid days");
        assert_eq!(settings.validity_days, 30);
        let before = settings;
        for (name, value) in [
            ("validity-days", "0"),
            ("validity-days", "3651"),
            ("validity-days", "ten"),
            ("key-generation-timeout", "0"),
            ("max-failed-attempts", "-1"),
            ("key-generation-retries", "11"),
            ("renew-used-share", "1.5"),
            ("renew-used-share", "0"),
        ] {
            let error = settings.set(name, value).expect_err(value);
            assert!(
                matches!(error, SettingError::BadValue { name: n, .. } if n == name),
                "{name}={value}: {error}"
            );
        }
        assert_eq!(settings, before);
        let unknown = settings.set("validity", "3").expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .contains("validity-days, key-generation-timeout, key-generation-retries")
        );
        settings.set("renew-used-share", "OFF").expect("off");
        assert_eq!(settings.renew_used_share, None);
    }

    #[test]
    fn unknown_stored_names_are_skipped_bad_values_refused() {
        let settings =
            Settings::from_pairs([("from-the-future", "x"), ("max-failed-attempts", "0")])
                .expect("unknown names skipped");
        assert_eq!(settings.max_failed_attempts, 0);
        assert!(Settings::from_pairs([("validity-days", "0")]).is_err());
    }
}
