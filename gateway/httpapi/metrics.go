package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/govshare/ledger/chaincode/domain"
)

// metrics are the gateway's Prometheus series.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	fabric    *prometheus.HistogramVec
	indexWait *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, index Index) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12), // 5 ms .. ~10 s
		}, []string{"method", "route", "status"}),
		fabric: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_fabric_call_duration_seconds",
			Help:    "Ledger calls by kind (submit: endorse to commit; evaluate), transaction name and outcome (ok or the domain error code).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"call", "tx", "outcome"}),
		indexWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_index_wait_duration_seconds",
			Help:    "Time from commit until the index confirmed the block, by outcome (ok, timeout, error).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.fabric, m.indexWait, &indexCollector{index: index}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.latency.WithLabelValues(method, route, s).Observe(d.Seconds())
}

func (m *metrics) observeFabric(call, tx string, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = string(domain.ErrorCode(err))
	}
	m.fabric.WithLabelValues(call, tx, outcome).Observe(d.Seconds())
}

func (s *server) metricsHandler() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
}

// indexCollector asks the indexer for its progress at scrape time, so that
// the lag is current whenever it is read.
type indexCollector struct{ index Index }

var (
	indexUpDesc     = prometheus.NewDesc("gateway_index_up", "1 if the indexer answered its status at this scrape.", nil, nil)
	indexHeightDesc = prometheus.NewDesc("gateway_index_height_blocks", "Blocks the indexer has applied.", nil, nil)
	indexLagDesc    = prometheus.NewDesc("gateway_index_lag_blocks", "Blocks the indexer is behind the ledger, as it reports.", nil, nil)
	findingsDesc    = prometheus.NewDesc("gateway_findings_open", "Open early-warning findings (indexer/WATCH.md), by kind and the department whose obligation it is.",
		[]string{"kind", "department"}, nil)
)

func (ic *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- indexUpDesc
	ch <- indexHeightDesc
	ch <- indexLagDesc
	ch <- findingsDesc
}

func (ic *indexCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := ic.index.Status(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(indexUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(indexUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(indexHeightDesc, prometheus.GaugeValue, float64(st.Height))
	ch <- prometheus.MustNewConstMetric(indexLagDesc, prometheus.GaugeValue, float64(st.LagBlocks))
	for _, f := range st.OpenFindings {
		ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(f.Open), f.Kind, f.Department)
	}
}
