//! The seed's benchmark extensions, with the behaviour (and the host calls)
//! of TinyGo's `benchmarks-pkg.wasm`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use extwasm_guest_sdk::{Ext, NULL_ENTITY, STORAGE_EVENT, STORAGE_SEND_MAIL, extension};

extension! {
    /// The extensions of this module.
    pub const EXTENSIONS = [
        doNothing => do_nothing,
        oneKey1call => one_key_1_call,
        oneGetNoIntents2calls => one_get_no_intents_2_calls,
        oneGetLongStr3calls => one_get_long_str_3_calls,
        oneGetOneIntent5calls => one_get_one_intent_5_calls,
    ];
}

/// Returns.
pub fn do_nothing(_: Ext<'_>) {}

/// Builds a key for `sys.Test2` (1 host call).
pub fn one_key_1_call(ext: Ext<'_>) {
    ext.key_builder("sys.Test2", NULL_ENTITY);
}

/// Gets the event (2 host calls).
pub fn one_get_no_intents_2_calls(ext: Ext<'_>) {
    ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
}

/// Gets `sys.Test` and reads its long string field `500c` (3 host calls).
pub fn one_get_long_str_3_calls(ext: Ext<'_>) {
    let value = ext.must_get_value(&ext.key_builder("sys.Test", NULL_ENTITY));
    value.as_string("500c");
}

/// Gets the event and sends a mail from `test@gmail.com` (5 host calls).
pub fn one_get_one_intent_5_calls(ext: Ext<'_>) {
    ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    let mail = ext.new_value(&ext.key_builder(STORAGE_SEND_MAIL, NULL_ENTITY));
    mail.put_string("from", "test@gmail.com");
}

#[cfg(test)]
mod tests {
    use extwasm_guest_sdk::testing::{ErrorKind, MockHost};
    use serde_json::json;

    use super::*;

    const STATE: &str = include_str!("../../../states/benchmarks.json");

    #[test]
    fn extensions_without_intents() {
        let host = MockHost::from_json(STATE).unwrap();
        for extension in [do_nothing, one_key_1_call, one_get_no_intents_2_calls, one_get_long_str_3_calls] {
            assert_eq!(host.run(extension).unwrap(), Vec::<serde_json::Value>::new());
        }
    }

    #[test]
    fn one_intent() {
        let intents = MockHost::from_json(STATE).unwrap().run(one_get_one_intent_5_calls).unwrap();
        assert_eq!(
            intents,
            [
                json!({"op": "insert", "storage": "sys.SendMail", "entity": "", "key": {}, "value": {"from": "test@gmail.com"}})
            ]
        );
    }

    #[test]
    fn a_failing_mail_storage_refuses_the_mail() {
        let state = r#"{"sys.Event": [{"value": {}}], "sys.SendMail": {"$error": "test i/o error"}}"#;
        let err = MockHost::from_json(state).unwrap().run(one_get_one_intent_5_calls).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert_eq!(
            err.to_string(),
            "extension mock/one_get_one_intent_5_calls: hostNewValue(keyBuilder): state error: test i/o error"
        );
    }

    #[test]
    fn gets_fail_without_their_records() {
        let host = MockHost::from_json("{}").unwrap();
        assert_eq!(host.run(one_key_1_call).unwrap().len(), 0);
        assert_eq!(host.run(one_get_no_intents_2_calls).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(host.run(one_get_long_str_3_calls).unwrap_err().kind(), ErrorKind::NotFound);
    }
}
