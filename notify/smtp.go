// Package notify sends labhooks' notification emails through an SMTP
// server (README "Notifications and operational events"). What to send,
// and when, is the application layer's (app.Service.SendNotifications).
package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTP sends email through one SMTP server, a new connection per message
// (notifications are few).
type SMTP struct {
	host     string
	port     int
	security string // "starttls", "tls" (implicit) or "none"
	user     string
	password string
	from     string
	timeout  time.Duration
	tls      *tls.Config
}

// Config describes the SMTP server.
type Config struct {
	// URL is smtp://user:password@host:port (STARTTLS required; port 587
	// by default), smtps://… (TLS from the first byte; port 465 by
	// default), or smtp://host:port?tls=none (no encryption at all: only
	// for a relay on the same machine, or tests). User and password are
	// optional and URL-encoded.
	URL string
	// From is the sender's address, such as labhooks@example.com.
	From string
	// TLS, if set, is the TLS configuration (its ServerName is set from
	// the URL's host when empty). Default: the system's roots.
	TLS *tls.Config
	// Timeout bounds one message's conversation. Default 30s.
	Timeout time.Duration
}

// New checks cfg and returns its sender.
func New(cfg Config) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("not a URL such as smtp://user:password@smtp.example.com:587")
	}
	s := &SMTP{host: u.Hostname(), timeout: cfg.Timeout, tls: cfg.TLS}
	switch u.Scheme {
	case "smtp":
		s.security, s.port = "starttls", 587
		switch tlsMode := u.Query().Get("tls"); tlsMode {
		case "", "starttls":
		case "none":
			s.security = "none"
		default:
			return nil, fmt.Errorf("tls=%s: use tls=none (no encryption, for a local relay) or leave it out (STARTTLS)", tlsMode)
		}
	case "smtps":
		s.security, s.port = "tls", 465
	default:
		return nil, fmt.Errorf("must start with smtp:// (STARTTLS) or smtps:// (TLS)")
	}
	if s.host == "" {
		return nil, fmt.Errorf("no host: give smtp://user:password@smtp.example.com:587")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q: a number from 1 to 65535", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil || from.Address == "" {
		return nil, fmt.Errorf("--smtp-from %q: an email address such as labhooks@example.com", cfg.From)
	}
	s.from = cfg.From
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls = s.tls.Clone()
		s.tls.ServerName = s.host
	}
	return s, nil
}

// Address returns the server's host:port and how the connection is
// secured, for logs (never the password).
func (s *SMTP) Address() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.port)) + " (" + s.security + ")"
}

// Send sends one plain-text message to every address of to. It returns
// once the server accepted it (or refused it).
func (s *SMTP) Send(ctx context.Context, to []string, subject, text string) error {
	m := gomail.NewMsg()
	if err := m.From(s.from); err != nil {
		return err
	}
	if err := m.To(to...); err != nil {
		return err
	}
	m.Subject(subject)
	m.SetDate()
	m.SetMessageID()
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, text)

	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.timeout), gomail.WithTLSConfig(s.tls)}
	switch s.security {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.user), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("SMTP %s: %w", s.Address(), err)
	}
	return nil
}
