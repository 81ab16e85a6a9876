package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
)

// deliveriesPageSize is how many deliveries a dashboard page lists.
const deliveriesPageSize = 25

// deliveryRow is a delivery in the list, with its data link and partner.
type deliveryRow struct {
	*labhooks.Delivery
	Link    *labhooks.DataLink
	Partner *labhooks.Partner
}

// deliveriesData is the deliveries page: the filter, its choices, a page.
type deliveriesData struct {
	Rows []deliveryRow
	// Filter holds the query's values, to keep them selected.
	Filter   url.Values
	Statuses []labhooks.DeliveryStatus
	Types    []*labhooks.EventType
	Links    []*labhooks.DataLink
	Partners []*labhooks.Partner
	// Older is the next page's URL, empty on the last; First is the first
	// page's, empty on it.
	Older string
	First string
}

func (s *Server) deliveriesPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	q := r.URL.Query()
	for _, name := range []string{"status", "eventName", "datalinkId", "partnerId"} {
		if q.Get(name) == "" {
			q.Del(name) // an empty <select> means "any"
		}
	}
	f, err := httpapi.DeliveryFilter(q)
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = deliveriesPageSize
	}
	ds, next, err := s.app.Deliveries(r.Context(), c, f)
	if err != nil {
		return err
	}
	data := deliveriesData{Filter: q, Statuses: []labhooks.DeliveryStatus{labhooks.DeliveryPending, labhooks.DeliverySucceeded, labhooks.DeliveryFailed}}
	partners, ps, err := s.partnersByID(r.Context(), c)
	if err != nil {
		return err
	}
	if c.Admin {
		data.Partners = ps
		data.Types = s.app.EventTypes(r.Context())
	} else {
		data.Types = s.app.EventTypesFor(r.Context(), c.Partner.Role)
	}
	if data.Links, err = s.app.DataLinks(r.Context(), c, ""); err != nil {
		return err
	}
	links := make(map[string]*labhooks.DataLink, len(data.Links))
	for _, d := range data.Links {
		links[d.ID] = d
	}
	for _, d := range ds {
		data.Rows = append(data.Rows, deliveryRow{Delivery: d, Link: links[d.DataLinkID], Partner: partners[d.PartnerID]})
	}
	data.Older, data.First = pageLinks("/deliveries", q, next)
	return s.render(w, r, http.StatusOK, "deliveries", &view{Title: "Deliveries", Nav: "deliveries", Data: data})
}

// pageLinks returns the URLs of a listing's next page (given its cursor
// next; empty on the last page) and of its first page (empty on it), each
// with the filter of q.
func pageLinks(path string, q url.Values, next string) (older, first string) {
	if next != "" {
		o := cloneValues(q)
		o.Set("cursor", next)
		older = path + "?" + o.Encode()
	}
	if q.Get("cursor") != "" {
		f := cloneValues(q)
		f.Del("cursor")
		first = path + "?" + f.Encode()
	}
	return older, first
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// header is one request header as the dashboard shows it.
type header struct{ Name, Value string }

// attemptView is an attempt with the request headers it sent, secrets left
// out.
type attemptView struct {
	*labhooks.Attempt
	Headers []header
}

// deliveryPageData is one delivery with its attempts.
type deliveryPageData struct {
	Delivery *labhooks.Delivery
	Link     *labhooks.DataLink
	Partner  *labhooks.Partner
	Body     string
	// ErasedAt is when the event's payload was erased (Body is then empty).
	ErasedAt *time.Time
	Attempts []attemptView
	// RetryError says why the Retry button did nothing.
	RetryError string
}

func (s *Server) deliveryPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	d, err := s.app.Delivery(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	data, err := s.deliveryDetail(r.Context(), c, d)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "delivery", &view{Title: "Delivery " + d.ID, Nav: "deliveries", Data: data})
}

func (s *Server) deliveryDetail(ctx context.Context, c *app.Caller, d *labhooks.Delivery) (*deliveryPageData, error) {
	data := &deliveryPageData{Delivery: d}
	link, err := s.app.DataLink(ctx, c, d.DataLinkID)
	switch labhooks.ErrorCode(err) {
	case "":
		data.Link = link
	case labhooks.ENotFound: // deleted; its deliveries stay listed
	default:
		return nil, err
	}
	if data.Partner, err = s.app.Partner(ctx, c, d.PartnerID); err != nil && labhooks.ErrorCode(err) != labhooks.ENotFound {
		return nil, err
	}
	e, err := s.app.DeliveryEvent(ctx, c, d)
	if err != nil {
		return nil, err
	}
	if e.Erased {
		data.ErasedAt = e.ErasedAt
	} else {
		data.Body = prettyJSON(e.Body())
	}
	secret := "the data link's secret (not shown)"
	if link != nil && link.SecretHint() != "" {
		secret = "the data link's secret, ending " + link.SecretHint() + " (not shown)"
	}
	for _, a := range d.Attempts {
		data.Attempts = append(data.Attempts, attemptView{Attempt: a, Headers: []header{
			{"Content-Type", "application/json"},
			{"x-api-key", secret},
			{"webhook-id", d.ID},
			{"webhook-timestamp", strconv.FormatInt(a.StartedAt.Unix(), 10)},
			{"webhook-signature", "v1,… (HMAC-SHA256 of the body with the secret; not shown)"},
		}})
	}
	return data, nil
}

func (s *Server) retryDeliveryPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	d, err := s.app.Delivery(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := s.app.RetryDelivery(r.Context(), c, d.ID); labhooks.ErrorCode(err) == labhooks.EConflict || labhooks.ErrorCode(err) == labhooks.ERateLimited {
		data, derr := s.deliveryDetail(r.Context(), c, d)
		if derr != nil {
			return derr
		}
		data.RetryError = upperFirst(labhooks.ErrorMessage(err))
		setRetryAfter(w, err)
		return s.render(w, r, httpapi.ErrorStatus(err), "delivery", &view{Title: "Delivery " + d.ID, Nav: "deliveries", Data: data})
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/deliveries/"+d.ID+"?done=retried", http.StatusSeeOther)
	return nil
}
