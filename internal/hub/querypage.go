package hub

import "encoding/json"

// QueryPage is one page of a query's results, as the service API returns
// them: whole twins (ItemType "twin"), per-device job records
// ("deviceJob") or projected rows and aggregates ("raw").
type QueryPage struct {
	ItemType string
	Items    []json.RawMessage
	// Continuation is the token for the next page; "" on the last page.
	Continuation string
}
