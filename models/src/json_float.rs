//! JSON has no NaN or infinity: serde_json writes them as `null` and cannot read them back.
//! Fields that may hold them (a metric on one class, an empty bin) go through this module:
//! NaN is written as `null`, infinities as `"inf"` / `"-inf"`, and all three read back.

use serde::{Deserialize, Deserializer, Serializer};

/// Write a float that may not be finite.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_none()
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "inf" } else { "-inf" })
    } else {
        s.serialize_f64(*v)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f64),
    Text(String),
    Null,
}

/// Read what [`serialize`] wrote.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Option::<Repr>::deserialize(d)? {
        None | Some(Repr::Null) => Ok(f64::NAN),
        Some(Repr::Number(v)) => Ok(v),
        Some(Repr::Text(t)) => match t.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            other => Err(serde::de::Error::custom(format!(
                "expected a number, null, \"inf\" or \"-inf\", found \"{other}\""
            ))),
        },
    }
}
