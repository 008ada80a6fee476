// A command and projectors, with the behaviour (and the host calls) of
// TinyGo's basicusage-pkg.wasm.
package main

import "example.invalid/extwasm/tinygo-sdk/ext"

func main() {}

// orderedItems is the view CalcOrderedItems writes.
const orderedItems = "github.com/untillpro/airs-bp3/packages/mypkg.OrderedItems"

// totalPrice is the sum of Quantity × SinglePrice over the array items.
func totalPrice(items ext.TValue) int64 {
	var total int64
	// Len every round, as the TinyGo original does: the same host calls.
	for i := 0; i < items.Len(); i++ {
		item := items.GetAsValue(i)
		total += int64(item.AsInt32("Quantity")) * item.AsInt64("SinglePrice")
	}
	return total
}

// NewOrder (a command) sums the ordered items of the command's argument and
// refuses an order whose total is not positive.
//
//go:wasmexport NewOrder
func NewOrder() {
	command := ext.MustGetValue(ext.KeyBuilder(ext.StorageCommandContext, ext.NullEntity))
	arg := command.AsValue("ArgumentObject")
	if totalPrice(arg.AsValue("Items")) <= 0 {
		panic("negative order amount")
	}
}

// CalcOrderedItems (a projector) adds the event's order total to the view
// record of its day.
//
//go:wasmexport CalcOrderedItems
func CalcOrderedItems() {
	event := ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
	arg := event.AsValue("ArgumentObject")
	total := totalPrice(arg.AsValue("Items"))
	key := ext.KeyBuilder(ext.StorageView, orderedItems)
	key.PutInt32("Year", arg.AsInt32("Year"))
	key.PutInt32("Month", arg.AsInt32("Month"))
	key.PutInt32("Day", arg.AsInt32("Day"))
	if existing, ok := ext.QueryValue(key); ok {
		ext.UpdateValue(key, existing).PutInt64("Amount", existing.AsInt64("Amount")+total)
	} else {
		ext.NewValue(key).PutInt64("Amount", total)
	}
}

// updateSubscriptionProjector mails the customer when their subscription
// changed.
//
//go:wasmexport updateSubscriptionProjector
func updateSubscriptionProjector() {
	event := ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
	if event.AsString("qname") != "air.UpdateSubscription" {
		return
	}
	json := event.AsValue("arg")
	subscription := json.AsValue("subscription")
	customer := json.AsValue("customer")
	mail := ext.NewValue(ext.KeyBuilder(ext.StorageSendMail, ext.NullEntity))
	mail.PutString("from", "test@gmail.com")
	mail.PutString("to", customer.AsString("email"))
	mail.PutString("body", "Your subscription has been updated. New status: "+subscription.AsString("status"))
}

// incrementProjector counts its invocations in the view record
// mypkg.TestView (pk = 1, cc = 1), field vv.
//
//go:wasmexport incrementProjector
func incrementProjector() {
	key := ext.KeyBuilder(ext.StorageView, "mypkg.TestView")
	key.PutInt32("pk", 1)
	key.PutInt32("cc", 1)
	if existing, ok := ext.QueryValue(key); ok {
		ext.UpdateValue(key, existing).PutInt32("vv", existing.AsInt32("vv")+1)
	} else {
		ext.NewValue(key).PutInt32("vv", 1)
	}
}
