package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/store"
)

// Auditor checks the mirror against the ledger (package audit).
type Auditor interface {
	Verify(ctx context.Context, txID string) (*audit.Verification, error)
	Chain(ctx context.Context, from, to uint64) (*audit.ChainReport, error)
}

// defaultChainSpan is how many blocks a chain check covers when from is not given.
const defaultChainSpan = 1000

// lineage answers a dataset's upstream and downstream datasets.
func (s *Server) lineage(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("datasetId")
	if err := domain.CheckID("datasetId", id); err != nil {
		s.writeError(w, r, err)
		return
	}
	l, err := s.store.Lineage(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) auditor() (Auditor, error) {
	if s.audit == nil {
		return nil, domain.Errorf(domain.CodeUnavailable, "this indexer has no connection to the ledger to verify against")
	}
	return s.audit, nil
}

// verify checks one indexed transaction against its block on the ledger.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	txID := r.PathValue("txId")
	if err := domain.CheckID("txId", txID); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.auditor()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := a.Verify(r.Context(), txID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// chain checks the hash chain over [from, to]: by default the last
// defaultChainSpan indexed blocks.
func (s *Server) chain(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	h := s.store.Status().Height
	if h == 0 {
		s.writeError(w, r, domain.Errorf(domain.CodeUnavailable, "the index holds no block yet"))
		return
	}
	to, err := uintParam(q.Get("to"), "to", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Get("to") == "" {
		to = h - 1
	}
	from, err := uintParam(q.Get("from"), "from", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Get("from") == "" {
		from = to - min(to, defaultChainSpan-1)
	}
	a, err := s.auditor()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rep, err := a.Chain(r.Context(), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// anomalies lists, for an auditor, the VALID transactions whose event the
// mirror did not believe or whose writes it could not take, in ledger
// order, each with the check it failed and the event as received.
func (s *Server) anomalies(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := page(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, next, err := s.store.Anomalies(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}

// csvHeader names the columns of a CSV export, one event per row.
var csvHeader = []string{"txId", "blockNumber", "txIndex", "timestamp", "mspId", "actor", "role", "type", "kind", "id",
	"status", "datasetId", "requestId", "owner", "requester", "payloadSha256", "event"}

func csvRow(e *store.EventRecord) []string {
	return []string{e.TxID, strconv.FormatUint(e.BlockNumber, 10), strconv.Itoa(e.TxIndex), e.Timestamp.UTC().Format(time.RFC3339Nano),
		e.MSPID, e.Actor, string(e.Role), string(e.Type), string(e.Kind), e.ID, e.Status, e.DatasetID, e.RequestID,
		e.Owner, e.Requester, e.PayloadSHA256, string(e.Event)}
}

// export streams a whole trace, without pages, as a JSON document or CSV
// with a header row, as a file to save.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	by, value, err := traceParams(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "format %q must be json or csv", truncate(format, 20)))
		return
	}
	name := fmt.Sprintf("trace-%s-%d.%s", by, s.store.Status().Height, format)
	started := false
	start := func(contentType string) {
		started = true
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.WriteHeader(http.StatusOK)
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		header := func() error {
			start("text/csv; charset=utf-8")
			return cw.Write(csvHeader)
		}
		err = s.store.TraceEach(r.Context(), by, value, func(e *store.EventRecord) error {
			if !started {
				if err := header(); err != nil {
					return err
				}
			}
			return cw.Write(csvRow(e))
		})
		if err == nil && !started {
			err = header()
		}
		if err == nil {
			cw.Flush()
			err = cw.Error()
		}
	default:
		// Each event goes out as the mirror stores it, the JSON of
		// store.EventRecord: a trace of ten thousand events is not decoded
		// to be encoded again. A large buffer sends it in few writes.
		bw := bufio.NewWriterSize(w, 64<<10)
		n := 0
		err = s.store.TraceEachRaw(r.Context(), by, value, func(raw []byte) error {
			if !started {
				start("application/json")
				bw.WriteString(`{"items":[`)
			}
			if n++; n > 1 {
				bw.WriteByte(',')
			}
			_, err := bw.Write(raw)
			return err
		})
		if err == nil {
			if !started {
				start("application/json")
				bw.WriteString(`{"items":[]}` + "\n")
			} else {
				bw.WriteString("]}\n")
			}
			err = bw.Flush()
		}
	}
	if err != nil {
		if !started {
			s.writeError(w, r, err)
			return
		}
		// The status is sent: cut the body short, so that the client sees
		// an incomplete file rather than a complete-looking one.
		s.log.ErrorContext(r.Context(), "export cut short", "by", by, "err", err)
		panic(http.ErrAbortHandler)
	}
}
