//! A document source parsed for checking against the mapping, borrowing from the bytes.
//!
//! Every write checks its source before it is proposed ([`crate::prepare`]). Parsing into
//! `serde_json::Value` allocated a `String` per key and per string value and an ordered
//! hash map per object, for a tree the check walks once and drops; it cost about 7% of a
//! leader's CPU under bulk ingest. [`Json`] keeps keys and strings as slices of the
//! source (owned only when they hold escapes) and objects as vectors of pairs, in source
//! order. A key that appears twice is kept twice and checked twice, as the indexer
//! (`search::document`) indexes both occurrences.
//!
//! Numbers take the forms `serde_json::Value` gives them: an integer that fits `i64` is
//! [`Json::I64`], a larger one [`Json::U64`], anything else [`Json::F64`]. Not here: what
//! a value means under a field type ([`super::value`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::value::Scalar;

/// One JSON value of a source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `bytes` (the whole input must be one JSON value).
    pub(crate) fn parse(bytes: &'a [u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }

    /// The value as a scalar; `None` for null, arrays and objects.
    pub(crate) fn scalar(&self) -> Option<Scalar<'_>> {
        Some(match self {
            Self::Str(s) => Scalar::Str(s),
            Self::Bool(b) => Scalar::Bool(*b),
            Self::I64(i) => Scalar::I64(*i),
            Self::U64(u) => Scalar::U64(*u),
            Self::F64(f) => Scalar::F64(*f),
            Self::Null | Self::Arr(_) | Self::Obj(_) => return None,
        })
    }
}

/// Compact JSON, as `serde_json::Value` prints it (error messages quote values with it).
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::I64(i) => s.serialize_i64(*i),
            Self::U64(u) => s.serialize_u64(*u),
            Self::F64(f) => s.serialize_f64(*f),
            Self::Str(v) => s.serialize_str(v),
            Self::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Obj(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Json::U64(v), Json::I64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::F64(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
        // A key comes through the same visitor: a string, borrowed unless escaped.
        while let Some(key) = map.next_key()? {
            let Json::Str(key) = key else {
                return Err(de::Error::custom("an object key must be a string"));
            };
            pairs.push((key, map.next_value()?));
        }
        Ok(Json::Obj(pairs))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let src =
            br#"{"plain": "abc", "esc\"aped": "a\nb", "n": [1, -2, 1.5, 18446744073709551615]}"#;
        let Json::Obj(pairs) = Json::parse(src).unwrap() else {
            panic!("an object")
        };
        assert!(matches!(pairs[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&pairs[0].1, Json::Str(Cow::Borrowed("abc"))));
        assert_eq!(pairs[1].0, "esc\"aped");
        assert!(matches!(pairs[1].0, Cow::Owned(_)));
        assert_eq!(pairs[1].1, Json::Str(Cow::Owned("a\nb".into())));
        assert_eq!(
            pairs[2].1,
            Json::Arr(vec![
                Json::I64(1),
                Json::I64(-2),
                Json::F64(1.5),
                Json::U64(u64::MAX)
            ])
        );
    }

    #[test]
    fn scalars_match_the_value_forms() {
        for v in [
            json!(7),
            json!(-7),
            json!(u64::MAX),
            json!(0.25),
            json!("x"),
            json!(true),
        ] {
            let bytes = serde_json::to_vec(&v).unwrap();
            let parsed = Json::parse(&bytes).unwrap();
            assert_eq!(parsed.scalar(), Scalar::from_json(&v), "{v}");
        }
        assert_eq!(Json::parse(b"null").unwrap().scalar(), None);
        assert_eq!(Json::parse(b"[1]").unwrap().scalar(), None);
    }

    #[test]
    fn keys_keep_source_order_and_duplicates_and_print_back() {
        let src = br#"{"b":1,"a":{"x":[true,null]},"b":"2"}"#;
        let parsed = Json::parse(src).unwrap();
        let Json::Obj(pairs) = &parsed else {
            panic!("an object")
        };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(parsed.to_string(), std::str::from_utf8(src).unwrap());
        let value: Value = serde_json::from_slice(br#"{"x":[1,"y"]}"#).unwrap();
        assert_eq!(
            Json::parse(br#"{"x":[1,"y"]}"#).unwrap().to_string(),
            value.to_string()
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(Json::parse(b"{\"a\": }").is_err());
        assert!(Json::parse(b"{\"a\": 1} trailing").is_err());
        assert!(Json::parse(b"").is_err());
    }
}
