package radius

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests      *prometheus.CounterVec
	seconds       *prometheus.HistogramVec
	dropped       *prometheus.CounterVec
	retransmitted prometheus.Counter
	nas           prometheus.Gauge
	tried         prometheus.Histogram
	radsecConns   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_radius_requests_total",
			Help: "RADIUS requests answered, by result (accept, reject, accounted) and the reason of a reject."}, []string{"result", "reason"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portal_radius_request_seconds",
			Help:    "Time from a RADIUS request's turn to its reply, by result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_radius_dropped_total",
			Help: "RADIUS packets dropped without a reply, by cause."}, []string{"cause"}),
		retransmitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "portal_radius_retransmissions_total",
			Help: "Retransmitted RADIUS requests answered with the reply already sent."}),
		tried: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "portal_radius_handshake_candidates",
			Help:    "Identities a dynamic-PSK handshake was checked against before it matched or was refused.",
			Buckets: []float64{1, 2, 5, 10, 50, 100, 500, 1000, 5000, 20000}}),
		nas: prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_radius_access_points",
			Help: "Access points (NAS clients) in the RADIUS server's table."}),
		radsecConns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "portal_radsec_connections",
			Help: "Open RadSec (RADIUS over TLS) connections."}),
	}
	for _, cause := range []string{"malformed", "unknown_source", "unexpected_code", "in_progress", "nas_budget", "global_budget",
		"busy", "search_budget", "bad_authenticator", "no_message_authenticator", "bad_message_authenticator", "unavailable", "encode",
		"radsec_connections", "radsec_handshake", "unknown_certificate"} {
		m.dropped.WithLabelValues(cause)
	}
	for _, result := range []string{"accept", "reject", "accounted"} {
		m.seconds.WithLabelValues(result)
	}
	m.requests.WithLabelValues("accept", "")
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds, m.dropped, m.retransmitted, m.nas, m.tried, m.radsecConns)
	}
	return m
}

func (m *metrics) drop(cause string) { m.dropped.WithLabelValues(cause).Inc() }
