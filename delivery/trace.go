package delivery

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/tracing"
)

// The engine's spans (see package tracing): one per claim batch, and one
// per attempt, a child of the event's emit (its stored traceparent) and
// linked to the claim that took it. With tracing off (no tracer) they
// cost nothing.

// claimSpan is a claim under way: its span is made when the claim has
// ended, and only if it took something or failed, so an idle engine's
// polls leave no spans.
type claimSpan struct {
	start time.Time
	limit int
}

// startClaim notes the start of a claim of at most limit deliveries.
func (e *Engine) startClaim(limit int) claimSpan {
	if e.tracer == nil {
		return claimSpan{}
	}
	return claimSpan{start: time.Now(), limit: limit}
}

// endClaim makes the span of a claim that took claimed deliveries, and
// returns its span context for the attempts' links (invalid when none).
func (e *Engine) endClaim(ctx context.Context, c claimSpan, claimed int, err error) trace.SpanContext {
	if e.tracer == nil || (claimed == 0 && err == nil) {
		return trace.SpanContext{}
	}
	_, span := e.tracer.Start(ctx, tracing.SpanClaim, trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(c.start))
	span.SetAttributes(tracing.AttrClaimLimit.Int(c.limit), tracing.AttrClaimed.Int(claimed))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "claiming deliveries")
	}
	span.End()
	return span.SpanContext()
}

// startAttempt starts the span of j's attempt, under the event's emit and
// linked to claim, and returns the traceparent to send the receiver: the
// attempt's, or with tracing off the event's own, passed on unchanged.
func (e *Engine) startAttempt(j *labhooks.Job, claim trace.SpanContext) (context.Context, trace.Span, string) {
	ctx := context.Background()
	if e.tracer == nil {
		ctx, span := tracing.Start(ctx, nil, "")
		return ctx, span, j.Traceparent
	}
	emit := tracing.Parse(j.Traceparent)
	if emit.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, emit)
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	if claim.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: claim}))
	}
	ctx, span := e.tracer.Start(ctx, tracing.SpanAttempt, opts...)
	if !span.IsRecording() {
		return ctx, span, j.Traceparent
	}
	span.SetAttributes(
		tracing.AttrDeliveryID.String(j.DeliveryID), tracing.AttrEventID.String(j.EventID),
		tracing.AttrEventName.String(j.EventName), tracing.AttrDataLinkID.String(j.DataLinkID),
		tracing.AttrPartnerID.String(j.PartnerID), tracing.AttrAttemptNumber.Int(j.Try))
	return ctx, span, tracing.Format(span.SpanContext())
}

// endAttempt ends an attempt's span with its answer and the delivery's
// status after it.
func endAttempt(span trace.Span, res *Result, status labhooks.DeliveryStatus) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrStatus.String(string(status)), tracing.AttrAttemptOutcome.String(res.Outcome()),
			tracing.AttrDurationMs.Int64(res.Duration.Milliseconds()))
		if res.StatusCode != 0 {
			span.SetAttributes(tracing.AttrHTTPStatus.Int(res.StatusCode))
		}
		if !res.OK() {
			span.SetStatus(codes.Error, res.Summary())
		}
	}
	span.End()
}
