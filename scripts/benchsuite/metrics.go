package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// histogram reads the sum and the count of model's series of the histogram
// family (every version) from ovms's /metrics at restURL.
func histogram(ctx context.Context, restURL, family, model string) (sum, count float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, restURL+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("reading ovms's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("reading ovms's metrics: %s", resp.Status)
	}
	return parseHistogram(bufio.NewScanner(resp.Body), family, model)
}

// parseHistogram finds model's family_sum and family_count in a Prometheus
// text exposition, summed over its series (absent: 0, nothing recorded yet).
func parseHistogram(sc *bufio.Scanner, family, model string) (sum, count float64, err error) {
	label := `name="` + model + `"`
	for sc.Scan() {
		line := sc.Text()
		var dst *float64
		switch {
		case strings.HasPrefix(line, family+"_sum{"):
			dst = &sum
		case strings.HasPrefix(line, family+"_count{"):
			dst = &count
		default:
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 || !strings.Contains(line[:end], label) {
			continue
		}
		v, perr := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("metrics line %q: %w", line, perr)
		}
		*dst += v
	}
	return sum, count, sc.Err()
}
