package httpapi

import (
	"net/http"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// dataLinkJSON is a data link as the API shows it: the secret only as a hint,
// except in the answer that created or rotated it.
type dataLinkJSON struct {
	*labhooks.DataLink
	SecretHint string `json:"secretHint"`
	Secret     string `json:"secret,omitempty"`
	// Mode is "ordered" or "concurrent" (DataLink.Mode).
	Mode string `json:"mode"`
}

func showDataLink(d *labhooks.DataLink) dataLinkJSON {
	return dataLinkJSON{DataLink: d, SecretHint: d.SecretHint(), Mode: d.Mode()}
}

// showSecret shows d with its secret, in the one answer that may.
func showSecret(d *labhooks.DataLink) dataLinkJSON {
	out := showDataLink(d)
	out.Secret = d.Secret
	return out
}

// Each handler of one data link reads it first, so that another partner's
// link is reported missing whatever the body says.

func (s *Server) createDataLink(w http.ResponseWriter, r *http.Request) error {
	c, pid := callerOf(r), r.PathValue("id")
	if _, err := s.app.Partner(r.Context(), c, pid); err != nil {
		return err
	}
	var in app.DataLinkInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err := s.app.CreateDataLink(r.Context(), c, pid, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, showSecret(d))
}

func (s *Server) listDataLinks(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.app.DataLinks(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]dataLinkJSON, len(ds))
	for i, d := range ds {
		out[i] = showDataLink(d)
	}
	return writeJSON(w, http.StatusOK, list[dataLinkJSON]{Data: out})
}

func (s *Server) getDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.app.DataLink(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showDataLink(d))
}

func (s *Server) updateDataLink(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.DataLink(r.Context(), c, id); err != nil {
		return err
	}
	var u labhooks.DataLinkUpdate
	if err := decode(w, r, &u); err != nil {
		return err
	}
	d, err := s.app.UpdateDataLink(r.Context(), c, id, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showDataLink(d))
}

func (s *Server) deleteDataLink(w http.ResponseWriter, r *http.Request) error {
	if err := s.app.DeleteDataLink(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.DataLink(r.Context(), c, id); err != nil {
		return err
	}
	var in app.RotationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err := s.app.RotateSecret(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showSecret(d))
}

func (s *Server) replayDataLink(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.DataLink(r.Context(), c, id); err != nil {
		return err
	}
	var in app.ReplayInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	n, err := s.app.Replay(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
}

func (s *Server) testDataLink(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.DataLink(r.Context(), c, id); err != nil {
		return err
	}
	var in struct {
		EventName string `json:"eventName"`
	}
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	res, err := s.app.TestDataLink(r.Context(), c, id, in.EventName)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}
