//! The digest reproduces every vector computed by the original gem.

use etlify::{canonical_json, stable_sha256};
use serde_json::Value;

const VECTORS: &str = include_str!("fixtures/digest_vectors.json");

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(VECTORS).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

fn check(name: &str) {
    let vector = vectors()
        .into_iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector named {name}"));
    let payload: Value =
        serde_json::from_str(vector["payload_json_input"].as_str().unwrap()).unwrap();
    assert_eq!(
        canonical_json(&payload),
        vector["canonical_json"].as_str().unwrap(),
        "canonical JSON of {name}"
    );
    assert_eq!(
        stable_sha256(&payload),
        vector["sha256"].as_str().unwrap(),
        "sha256 of {name}"
    );
}

macro_rules! digest_vectors {
    ($($test:ident => $name:literal),* $(,)?) => {
        $( #[test] fn $test() { check($name) } )*

        #[test]
        fn digest_every_fixture_vector_has_a_test() {
            let tested = [$($name),*];
            for vector in vectors() {
                let name = vector["name"].as_str().unwrap().to_owned();
                assert!(tested.contains(&name.as_str()), "vector {name} has no test");
            }
        }
    };
}

digest_vectors! {
    digest_nested_sorted => "nested_sorted",
    digest_user_payload => "user_payload",
    digest_escapes_unicode => "escapes_unicode",
    digest_null => "null",
    digest_string => "string",
    digest_integer => "integer",
    digest_negative_and_zero => "negative_and_zero",
    digest_big_integer => "big_integer",
    digest_floats_simple => "floats_simple",
    digest_floats_exponent => "floats_exponent",
    digest_control_chars => "control_chars",
    digest_unicode_keys_order => "unicode_keys_order",
    digest_emoji_and_cjk_values => "emoji_and_cjk_values",
    digest_empty_containers => "empty_containers",
    digest_array_order_matters => "array_order_matters",
    digest_array_of_objects => "array_of_objects",
    digest_booleans => "booleans",
    digest_slash_and_html => "slash_and_html",
    digest_backslash => "backslash",
    digest_line_separators => "line_separators",
}

#[test]
fn x15_digest_depends_on_json_values_not_on_their_text() {
    let a: Value =
        serde_json::from_str(r#"{"b": [1, 2.50, "x"], "a": {"z": null, "y": true}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"a":{"y":true,"z":null},"b":[1,2.5,"x"]}"#).unwrap();
    assert_eq!(stable_sha256(&a), stable_sha256(&b));
    let c: Value = serde_json::from_str(r#"{"a":{"y":true,"z":null},"b":[2.5,1,"x"]}"#).unwrap();
    assert_ne!(
        stable_sha256(&a),
        stable_sha256(&c),
        "array order is part of the value"
    );
}
