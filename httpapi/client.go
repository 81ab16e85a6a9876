package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
)

// Client calls the labhooks API; the command line is built on it.
type Client struct {
	// BaseURL is the server's root, such as http://127.0.0.1:8080.
	BaseURL string
	// Key is the admin or partner API key.
	Key string
	// HTTP is the client to use; default one with a 60 s timeout.
	HTTP *http.Client
}

// Do sends a JSON request and decodes a JSON answer into out (unless nil). An
// API error comes back as *labhooks.Error with the server's code and message.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, header http.Header) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("calling labhooks at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("reading labhooks' answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error labhooks.Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return &e.Error
		}
		return fmt.Errorf("labhooks answered %s: %.200s", resp.Status, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding labhooks' answer: %w", err)
	}
	return nil
}

// Path joins escaped path segments onto a format, such as
// Path("/v1/datalinks/%s/test", id).
func Path(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}
