//! A command and projectors, with the behaviour (and the host calls) of
//! TinyGo's `basicusage-pkg.wasm`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;

use extwasm_guest_sdk::{
    Ext, NULL_ENTITY, STORAGE_COMMAND_CONTEXT, STORAGE_EVENT, STORAGE_SEND_MAIL, STORAGE_VIEW, Value, extension,
};

extension! {
    /// The extensions of this module.
    pub const EXTENSIONS = [
        NewOrder => new_order,
        CalcOrderedItems => calc_ordered_items,
        updateSubscriptionProjector => update_subscription_projector,
        incrementProjector => increment_projector,
    ];
}

/// The view [`calc_ordered_items`] writes.
pub const ORDERED_ITEMS: &str = "github.com/untillpro/airs-bp3/packages/mypkg.OrderedItems";

/// Sum of `Quantity` × `SinglePrice` over the array `items`, with Go's
/// wrapping arithmetic.
fn total_price(items: &Value<'_>) -> i64 {
    let mut total: i64 = 0;
    let mut i = 0;
    // `len()` every round, as the Go loop condition does: the same host calls.
    while i < items.len() {
        let item = items.get_as_value(i);
        total = total.wrapping_add(i64::from(item.as_int32("Quantity")).wrapping_mul(item.as_int64("SinglePrice")));
        i += 1;
    }
    total
}

/// Command: sums the ordered items of the command's argument and refuses an
/// order whose total is not positive.
pub fn new_order(ext: Ext<'_>) {
    let command = ext.must_get_value(&ext.key_builder(STORAGE_COMMAND_CONTEXT, NULL_ENTITY));
    let arg = command.as_value("ArgumentObject");
    if total_price(&arg.as_value("Items")) <= 0 {
        panic!("negative order amount");
    }
}

/// Projector: adds the event's order total to the view record of its day.
pub fn calc_ordered_items(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    let arg = event.as_value("ArgumentObject");
    let total = total_price(&arg.as_value("Items"));
    let key = ext.key_builder(STORAGE_VIEW, ORDERED_ITEMS);
    key.put_int32("Year", arg.as_int32("Year"));
    key.put_int32("Month", arg.as_int32("Month"));
    key.put_int32("Day", arg.as_int32("Day"));
    match ext.query_value(&key) {
        None => {
            ext.new_value(&key).put_int64("Amount", total);
        }
        Some(existing) => {
            ext.update_value(&key, &existing).put_int64("Amount", existing.as_int64("Amount").wrapping_add(total));
        }
    }
}

/// Projector: mails the customer when their subscription changed.
pub fn update_subscription_projector(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    if event.as_string("qname") == "air.UpdateSubscription" {
        let json = event.as_value("arg");
        let subscription = json.as_value("subscription");
        let customer = json.as_value("customer");
        let mail = ext.new_value(&ext.key_builder(STORAGE_SEND_MAIL, NULL_ENTITY));
        mail.put_string("from", "test@gmail.com");
        mail.put_string("to", customer.as_string("email"));
        let mut body = String::from("Your subscription has been updated. New status: ");
        body.push_str(subscription.as_string("status"));
        mail.put_string("body", &body);
    }
}

/// Projector: counts its invocations in the view record `mypkg.TestView`
/// (`pk` = 1, `cc` = 1), field `vv`.
pub fn increment_projector(ext: Ext<'_>) {
    let key = ext.key_builder(STORAGE_VIEW, "mypkg.TestView");
    key.put_int32("pk", 1);
    key.put_int32("cc", 1);
    match ext.query_value(&key) {
        None => {
            ext.new_value(&key).put_int32("vv", 1);
        }
        Some(existing) => {
            ext.update_value(&key, &existing).put_int32("vv", existing.as_int32("vv").wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use extwasm_guest_sdk::testing::{ErrorKind, MockError, MockHost};
    use serde_json::json;

    use super::*;

    const ORDER: &str = include_str!("../../../states/order.json");
    const ORDER_NEGATIVE: &str = include_str!("../../../states/order-negative.json");
    const SUBSCRIPTION: &str = include_str!("../../../states/subscription.json");
    const INCREMENT: &str = include_str!("../../../states/increment.json");

    #[test]
    fn new_order_accepts_a_positive_total_and_refuses_the_rest() {
        assert_eq!(MockHost::from_json(ORDER).unwrap().run(new_order).unwrap().len(), 0);
        let err = MockHost::from_json(ORDER_NEGATIVE).unwrap().run(new_order).unwrap_err();
        let MockError::GuestPanic { message, .. } = &err else { panic!("{err}") };
        assert!(message.starts_with("negative order amount (at "), "{message}");
        assert!(message.contains("basicusage/src/lib.rs:"), "{message}");
        let err = MockHost::from_json("{}").unwrap().run(new_order).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn calc_ordered_items_inserts_then_updates() {
        let mut host = MockHost::from_json(ORDER).unwrap();
        let key = json!({"Year": 2023, "Month": 5, "Day": 17});
        let intents = host.run_and_apply(calc_ordered_items).unwrap();
        assert_eq!(
            intents,
            [
                json!({"op": "insert", "storage": "sys.View", "entity": ORDERED_ITEMS, "key": key, "value": {"Amount": 200}})
            ]
        );
        let intents = host.run_and_apply(calc_ordered_items).unwrap();
        assert_eq!(
            intents,
            [
                json!({"op": "update", "storage": "sys.View", "entity": ORDERED_ITEMS, "key": key, "value": {"Amount": 400}})
            ]
        );
    }

    #[test]
    fn update_subscription_projector_mails_the_customer() {
        let intents = MockHost::from_json(SUBSCRIPTION).unwrap().run(update_subscription_projector).unwrap();
        assert_eq!(
            intents,
            [json!({"op": "insert", "storage": "sys.SendMail", "entity": "", "key": {}, "value": {
                "from": "test@gmail.com",
                "to": "customer@example.com",
                "body": "Your subscription has been updated. New status: active",
            }})]
        );
        let other = r#"{"sys.Event": [{"value": {"qname": "air.Other"}}]}"#;
        assert_eq!(MockHost::from_json(other).unwrap().run(update_subscription_projector).unwrap().len(), 0);
    }

    #[test]
    fn increment_projector_counts() {
        let mut host = MockHost::from_json(INCREMENT).unwrap();
        let intents = host.run_and_apply(increment_projector).unwrap();
        assert_eq!(intents[0]["op"], "update");
        assert_eq!(intents[0]["value"], json!({"vv": 42}));
        assert_eq!(host.run(increment_projector).unwrap()[0]["value"], json!({"vv": 43}));
        let intents = MockHost::from_json("{}").unwrap().run(increment_projector).unwrap();
        assert_eq!(
            intents,
            [
                json!({"op": "insert", "storage": "sys.View", "entity": "mypkg.TestView", "key": {"pk": 1, "cc": 1}, "value": {"vv": 1}})
            ]
        );
    }

    #[test]
    fn missing_fields_and_wrong_types_fail_like_on_the_engine() {
        let no_items = r#"{"sys.CommandContext": [{"value": {"ArgumentObject": {}}}]}"#;
        let err = MockHost::from_json(no_items).unwrap().run(new_order).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingField);
        assert_eq!(err.site().unwrap().host_call, "hostValueAsValue");
        let text_quantity =
            r#"{"sys.CommandContext": [{"value": {"ArgumentObject": {"Items": [{"Quantity": "1"}]}}}]}"#;
        let err = MockHost::from_json(text_quantity).unwrap().run(new_order).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TypeMismatch);
        assert_eq!(
            err.to_string(),
            "extension mock/new_order: hostValueAsInt32(namePtr): field \"Quantity\" is string, read as int32"
        );
    }
}
