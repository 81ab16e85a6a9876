package delivery

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/tracing"
)

// The engine's spans (see package tracing): one per claim batch, and one
// per attempt, a child of the event's emit (its stored traceparent) and
// linked to the claim that took it. With tracing off they cost a no-op
// span each.

// startClaim starts the span of a claim of at most limit deliveries.
func (e *Engine) startClaim(ctx context.Context, limit int) trace.Span {
	if e.tracer == nil {
		_, span := tracing.Start(ctx, nil, "")
		return span
	}
	_, span := e.tracer.Start(ctx, tracing.SpanClaim, trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrClaimLimit.Int(limit))
	}
	return span
}

// endClaim ends a claim's span with what it took.
func endClaim(span trace.Span, claimed int, err error) {
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrClaimed.Int(claimed))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "claiming deliveries")
		}
	}
	span.End()
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
	ctx, span := e.tracer.Start(ctx, tracing.SpanAttempt, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: claim}))
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
