//! Tier and visibility words, shared by every crate and every protocol.

use std::fmt;
use std::str::FromStr;

/// What kind of identity wrote a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    RealName,
    Pseudonymous,
    Anonymous,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::RealName, Tier::Pseudonymous, Tier::Anonymous];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::RealName => "real_name",
            Tier::Pseudonymous => "pseudonymous",
            Tier::Anonymous => "anonymous",
        }
    }

    /// Whether faces of this tier persist (have a profile, can follow).
    pub fn is_persistent(self) -> bool {
        !matches!(self, Tier::Anonymous)
    }
}

/// Who may see a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Visibility {
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [
        Visibility::Public,
        Visibility::Unlisted,
        Visibility::Private,
        Visibility::Direct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.value)
    }
}

impl std::error::Error for ParseError {}

impl FromStr for Tier {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| ParseError {
                what: "tier",
                value: s.to_owned(),
            })
    }
}

impl FromStr for Visibility {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Visibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseError {
                what: "visibility",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
        }
        for v in Visibility::ALL {
            assert_eq!(v.as_str().parse::<Visibility>(), Ok(v));
        }
        assert!("Anonymous".parse::<Tier>().is_err());
        assert!("followers".parse::<Visibility>().is_err());
    }
}
