//! A JSON array cut into its elements' texts, as written: how a record's `[in_s, f0_s, …]`
//! gives back its entries ([`Record::entries`](crate::Record::entries)) without parsing them
//! into values. serde_json's `RawValue` borrows each element from the text and checks the
//! whole is JSON: no scanner of our own to keep right about strings, escapes and nesting.

use serde_json::value::RawValue;

/// A record's text that is not a JSON array of JSON values
/// ([`Record::entries`](crate::Record::entries)): the text of a record a machine assembled
/// always is one, so this says the record was not.
#[derive(Debug, thiserror::Error)]
#[error("the record's text is not a JSON array of JSON values")]
pub struct EntriesError(#[source] serde_json::Error);

/// The texts of the elements of the JSON array `array`, as written (without the white
/// space between them), in order.
pub(crate) fn elements(array: &str) -> Result<Vec<&str>, EntriesError> {
    let raw: Vec<&RawValue> = serde_json::from_str(array).map_err(EntriesError)?;
    Ok(raw.into_iter().map(RawValue::get).collect())
}

#[cfg(test)]
mod tests {
    use super::elements;

    fn ok(array: &str) -> Vec<&str> {
        elements(array).unwrap_or_else(|e| panic!("{array}: {e}"))
    }

    #[test]
    fn nested_arrays_and_objects_are_one_element_each() {
        assert_eq!(
            ok(r#"[{"a":[1,{"b":[]}]},[[2,3],[]],4]"#),
            [r#"{"a":[1,{"b":[]}]}"#, "[[2,3],[]]", "4"]
        );
    }

    #[test]
    fn strings_keep_their_commas_brackets_quotes_and_escapes() {
        assert_eq!(
            ok(r#"["a,b","]","[{",{"k]":"v,\"}"},"\"","\\","\\\"]",3]"#),
            [
                r#""a,b""#,
                r#""]""#,
                r#""[{""#,
                r#"{"k]":"v,\"}"}"#,
                r#""\"""#,
                r#""\\""#,
                r#""\\\"]""#,
                "3"
            ]
        );
        assert_eq!(ok(r#"["\u005d,\n", "é"]"#), [r#""\u005d,\n""#, r#""é""#]);
    }

    #[test]
    fn white_space_around_elements_is_left_out_and_inside_kept() {
        assert_eq!(
            ok(" \n[ 1 ,\t{ \"a\" : [ 2 ] } ,\"x y\" ]\n "),
            ["1", "{ \"a\" : [ 2 ] }", "\"x y\""]
        );
    }

    #[test]
    fn an_empty_array_has_no_elements() {
        assert!(ok("[]").is_empty());
        assert!(ok(" [ \n ] ").is_empty());
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        let deep = "[".repeat(100_000);
        for bad in [
            "",
            "nope",
            "1",
            r#"{"a":1}"#,
            "[1",
            "[1,]",
            "[,1]",
            "[1,,2]",
            "[1 2]",
            "[1]x",
            "[1]]",
            "[}",
            "[{]}",
            r#"["open]"#,
            r#"["\q"]"#,
            "[NaN]",
            &deep,
        ] {
            let error = elements(bad).expect_err(bad);
            assert!(
                std::error::Error::source(&error).is_some(),
                "{bad}: the cause is kept"
            );
        }
    }
}
