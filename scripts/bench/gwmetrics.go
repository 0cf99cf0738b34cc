package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// gwSums are totals read from the gateways' /metrics: where a REST write's
// time goes, once the difference over a phase is taken.
type gwSums struct {
	submitSum, submitCount float64 // Fabric: endorse to commit, committed writes
	waitSum, waitCount     float64 // the index confirming the block
	httpSum, httpCount     float64 // the whole write, as the gateway saw it
	retries                float64 // writes endorsed again (gateway_fabric_retries_total, every reason)
	floorWaited            float64 // waits in which a peer had not committed the block yet
	floorTimeouts          float64 // of them, endorsed after the longest wait anyway
	floorWaitSum           float64 // seconds those waited, summed
	heightQueries          float64 // peer height questions asked for floors
}

// Breakdown is the mean time of a REST write's parts over a phase.
type Breakdown struct {
	Writes        int     `json:"writes"`
	HTTPMeanMs    float64 `json:"gatewayMeanMs"`
	FabricMeanMs  float64 `json:"fabricSubmitMeanMs"`
	IndexWaitMean float64 `json:"indexWaitMeanMs"`
	// Retries are the writes the gateways endorsed again themselves
	// (gateway_fabric_retries_total), on top of the client's retries.
	Retries int `json:"gatewayRetries"`
	// FloorWaited times a write waited for a peer to commit a block (its
	// endorsers its own block, its own peer its X-Min-Block floor is the
	// indexer's, not counted here), FloorWaitMeanMs on average;
	// FloorTimeouts gave up waiting.
	FloorWaited     int     `json:"floorWaited"`
	FloorWaitMeanMs float64 `json:"floorWaitMeanMs"`
	FloorTimeouts   int     `json:"floorTimeouts"`
	HeightQueries   int     `json:"heightQueries"`
}

func (s gwSums) minus(o gwSums) Breakdown {
	mean := func(sum, n float64) float64 {
		if n == 0 {
			return 0
		}
		return round3(1000 * sum / n)
	}
	return Breakdown{Writes: int(s.httpCount - o.httpCount), HTTPMeanMs: mean(s.httpSum-o.httpSum, s.httpCount-o.httpCount),
		FabricMeanMs: mean(s.submitSum-o.submitSum, s.submitCount-o.submitCount), IndexWaitMean: mean(s.waitSum-o.waitSum, s.waitCount-o.waitCount),
		Retries: int(s.retries - o.retries), FloorWaited: int(s.floorWaited - o.floorWaited), FloorTimeouts: int(s.floorTimeouts - o.floorTimeouts),
		FloorWaitMeanMs: mean(s.floorWaitSum-o.floorWaitSum, s.floorWaited-o.floorWaited), HeightQueries: int(s.heightQueries - o.heightQueries)}
}

// scrapeGateways adds up the write metrics of every gateway.
func scrapeGateways(ctx context.Context, c *Consortium) (gwSums, error) {
	var total gwSums
	hc := c.GatewayClient(0, 2)
	defer hc.CloseIdleConnections()
	for _, d := range c.Depts {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.Gateway+"/metrics", nil)
		if err != nil {
			return total, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return total, fmt.Errorf("metrics of %s: %w", d.MSPID, err)
		}
		s, err := parseGatewayMetrics(resp.Body)
		resp.Body.Close()
		if err != nil {
			return total, fmt.Errorf("metrics of %s: %w", d.MSPID, err)
		}
		total.submitSum += s.submitSum
		total.submitCount += s.submitCount
		total.waitSum += s.waitSum
		total.waitCount += s.waitCount
		total.httpSum += s.httpSum
		total.httpCount += s.httpCount
		total.retries += s.retries
		total.floorWaited += s.floorWaited
		total.floorTimeouts += s.floorTimeouts
		total.floorWaitSum += s.floorWaitSum
		total.heightQueries += s.heightQueries
	}
	return total, nil
}

// parseGatewayMetrics reads the sums and counts of committed writes from
// the Prometheus text format.
func parseGatewayMetrics(r io.Reader) (gwSums, error) {
	var s gwSums
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		write := strings.Contains(labels, `method="POST"`) && (strings.Contains(labels, `status="200"`) || strings.Contains(labels, `status="201"`))
		switch {
		case name == "gateway_fabric_call_duration_seconds_sum" && strings.Contains(labels, `call="submit"`) && strings.Contains(labels, `outcome="ok"`):
			s.submitSum += v
		case name == "gateway_fabric_call_duration_seconds_count" && strings.Contains(labels, `call="submit"`) && strings.Contains(labels, `outcome="ok"`):
			s.submitCount += v
		case name == "gateway_index_wait_duration_seconds_sum" && strings.Contains(labels, `outcome="ok"`):
			s.waitSum += v
		case name == "gateway_index_wait_duration_seconds_count" && strings.Contains(labels, `outcome="ok"`):
			s.waitCount += v
		case name == "gateway_http_request_duration_seconds_sum" && write:
			s.httpSum += v
		case name == "gateway_http_request_duration_seconds_count" && write:
			s.httpCount += v
		case name == "gateway_fabric_retries_total":
			s.retries += v
		case name == "gateway_fabric_floor_waited_total":
			s.floorWaited += v
		case name == "gateway_fabric_floor_timeouts_total":
			s.floorTimeouts += v
		case name == "gateway_fabric_floor_wait_seconds_total":
			s.floorWaitSum += v
		case name == "gateway_fabric_height_queries_total":
			s.heightQueries += v
		}
	}
	return s, sc.Err()
}
