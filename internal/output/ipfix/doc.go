// Package ipfix is an output sink that sends flow records to an IPFIX
// collector (RFC 7011) over UDP or TCP, as RFC 5103 biflows.
//
// Schema maps the run's columns to fields: keys, counters and times to
// IANA elements (the dst2src counters to RFC 5103's reverse elements,
// enterprise 29305), expiration_id also to flowEndReason, and every other
// column to an enterprise-specific element under EnterpriseNumber (a
// placeholder), SPLT lists as RFC 6313 basicLists, udps values as text.
// Two data templates (IPv4 and IPv6 addresses) and RFC 5610 type records,
// which name every enterprise element, are sent before any data.
//
// Exporter is the sink. Write encodes a record into a reused buffer and
// queues it; one goroutine per exporter packs queued records into
// messages (under Config.MTU for UDP), numbers them (RFC 7011 section
// 3.1: data records sent before the message in this transport session),
// refreshes the templates over UDP, and over TCP reconnects with backoff
// after losing the collector, holding at most Config.Buffer records
// meanwhile. What could not be sent is counted in Stats, never an error:
// the run goes on. docs/ipfix.md has the element table and the choices.
package ipfix
