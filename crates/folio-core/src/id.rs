//! Typed object ids: 32-byte BLAKE3 digests shown as lowercase hex.

use std::fmt;
use std::str::FromStr;

/// Length of every id in bytes.
pub const ID_LEN: usize = 32;

/// A BLAKE3 digest naming one object in the store.
///
/// The store is untyped: an [`ObjectId`] names bytes. The typed wrappers
/// ([`TreeId`], [`CommitId`], [`ManifestId`], [`ChunkId`]) say what the caller expects those
/// bytes to be.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; ID_LEN]);

impl ObjectId {
    /// The id of `bytes`: their plain BLAKE3 hash.
    pub fn of(bytes: &[u8]) -> Self {
        ObjectId(*blake3::hash(bytes).as_bytes())
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// The id as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(ID_LEN * 2);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }

    /// The first `n` hex digits, for display.
    pub fn short(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n.min(ID_LEN * 2));
        s
    }

    /// Builds an id from a byte slice of exactly [`ID_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; ID_LEN]>::try_from(bytes).ok().map(ObjectId)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl From<blake3::Hash> for ObjectId {
    fn from(h: blake3::Hash) -> Self {
        ObjectId(*h.as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short(12))
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A prefix of an id as users type it: 4 to 64 hex digits (either case),
/// kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix(String);

impl IdPrefix {
    /// The shortest prefix accepted.
    pub const MIN: usize = 4;

    /// `s` as a prefix, when it is 4 to 64 hex digits.
    pub fn parse(s: &str) -> Option<IdPrefix> {
        ((Self::MIN..=ID_LEN * 2).contains(&s.len()) && is_hex(s))
            .then(|| IdPrefix(s.to_ascii_lowercase()))
    }

    /// The digits, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `id` starts with the prefix.
    pub fn matches(&self, id: &[u8; ID_LEN]) -> bool {
        ObjectId(*id).to_hex().starts_with(&self.0)
    }

    /// The inclusive range of the first 8 bytes (big-endian) of the ids
    /// the prefix matches: index keys of ids lie in it.
    pub fn key_range(&self) -> (u64, u64) {
        let digits = &self.0[..self.0.len().min(16)];
        let lo = format!("{digits:0<16}");
        let hi = format!("{digits:f<16}");
        (
            u64::from_str_radix(&lo, 16).unwrap_or(0),
            u64::from_str_radix(&hi, 16).unwrap_or(u64::MAX),
        )
    }
}

/// Why a string is not an id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a 64-digit hex object id")]
pub struct ParseIdError(pub String);

impl FromStr for ObjectId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdError(s.to_string());
        let digits = s.as_bytes();
        if digits.len() != ID_LEN * 2 {
            return Err(err());
        }
        let mut out = [0u8; ID_LEN];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(err)?;
            let lo = hex_value(pair[1]).ok_or_else(err)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(ObjectId(out))
    }
}

/// The value of one hex digit (either case).
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// True when `s` is a non-empty string of hex digits.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| hex_value(c).is_some())
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub ObjectId);

        impl $name {
            /// The untyped object id.
            pub fn object(&self) -> ObjectId {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.short(12))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl $name {
            /// The first `n` hex digits, for display.
            pub fn short(&self, n: usize) -> String {
                self.0.short(n)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                ObjectId::deserialize(d).map($name)
            }
        }
    };
}

typed_id!(
    /// The id of an encoded tree object.
    TreeId
);
typed_id!(
    /// The id of an encoded commit object.
    CommitId
);
typed_id!(
    /// The id of an encoded table manifest.
    ManifestId
);
typed_id!(
    /// The id of one chunk of a table's rows.
    ChunkId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::of(b"abc");
        let parsed: ObjectId = id.to_hex().parse().expect("valid hex");
        assert_eq!(parsed, id);
    }

    #[test]
    fn blob_id_is_plain_blake3() {
        // Published BLAKE3 test vector: the hash of the empty input.
        assert_eq!(
            ObjectId::of(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn prefixes() {
        assert!(IdPrefix::parse("abc").is_none(), "too short");
        assert!(IdPrefix::parse("abcg").is_none(), "not hex");
        assert!(IdPrefix::parse(&"a".repeat(65)).is_none(), "too long");
        let p = IdPrefix::parse("AF13").expect("valid");
        assert_eq!(p.as_str(), "af13");
        assert!(p.matches(ObjectId::of(b"").as_bytes()));
        assert_eq!(
            p.key_range(),
            (0xaf13_0000_0000_0000, 0xaf13_ffff_ffff_ffff)
        );
        let full = IdPrefix::parse("0123456789abcdef0123").expect("valid");
        assert_eq!(
            full.key_range(),
            (0x0123_4567_89ab_cdef, 0x0123_4567_89ab_cdef)
        );
    }

    #[test]
    fn serialises_as_hex() {
        let id = CommitId(ObjectId::of(b"c"));
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, format!("\"{}\"", id.0.to_hex()));
        assert_eq!(serde_json::from_str::<CommitId>(&json).expect("parse"), id);
        assert!(serde_json::from_str::<CommitId>("\"abcd\"").is_err());
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("zz".parse::<ObjectId>().is_err());
        assert!("ab".repeat(31).parse::<ObjectId>().is_err());
        let mut s = "ab".repeat(32);
        s.replace_range(0..1, "g");
        assert!(s.parse::<ObjectId>().is_err());
    }
}
