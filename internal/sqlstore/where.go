package sqlstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/labhooks/labhooks"
)

// dataLinkWhere is the WHERE clause that selects the data links f selects.
func dataLinkWhere(f labhooks.DataLinkFilter) *where {
	w := &where{}
	if f.PartnerID != nil {
		w.add("partner_id = $%d", *f.PartnerID)
	}
	if f.IDs != nil {
		w.in("id", f.IDs)
	}
	return w
}

// deliveryWhere is the WHERE clause that selects the deliveries f selects.
func deliveryWhere(f labhooks.DeliveryFilter) (*where, error) {
	w := &where{}
	for _, c := range []struct {
		column string
		v      *string
	}{{"partner_id", f.PartnerID}, {"datalink_id", f.DataLinkID}, {"event_id", f.EventID}, {"event_name", f.EventName}} {
		if c.v != nil {
			w.add(c.column+" = $%d", *c.v)
		}
	}
	if f.Status != nil {
		// A literal, checked, so that the planner can use the partial
		// index of that status (a parameter's value it cannot know).
		if !f.Status.Valid() {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "status", "%q is not a delivery status", *f.Status)
		}
		w.conds = append(w.conds, "status = '"+string(*f.Status)+"'")
	}
	if f.Before != nil {
		w.add("id < $%d", *f.Before)
	}
	return w, nil
}

// where builds a WHERE clause whose arguments are numbered $1, $2, … in
// the order they are added.
type where struct {
	conds []string
	args  []any
}

// add adds cond, whose one %d is the number of its argument v.
func (w *where) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// in adds "column is one of vs"; none selects nothing.
func (w *where) in(column string, vs []string) {
	if len(vs) == 0 {
		w.conds = append(w.conds, "1 = 0")
		return
	}
	var b strings.Builder
	b.WriteString(column + " IN (")
	for i, v := range vs {
		w.args = append(w.args, v)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(len(w.args)))
	}
	w.conds = append(w.conds, b.String()+")")
}

// String returns the clause, "WHERE …", or "" when nothing was added.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}
