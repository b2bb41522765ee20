package ipfix

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocTable checks the table of enterprise elements in docs/ipfix.md
// (section 2.2) against the schema of every static column.
func TestDocTable(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "..", "docs", "ipfix.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### 2.2"):
			in = true
		case strings.HasPrefix(line, "### 2.3"):
			in = false
		case in && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| id"):
			doc = append(doc, line)
		}
	}
	types := map[uint8]string{1: "unsigned8", 2: "unsigned16", 3: "unsigned32", 4: "unsigned64", 5: "signed8", 7: "signed32", 8: "signed64", 10: "float64", 13: "string"}
	var code []string
	for _, f := range NewSchema(allColumns, nil).V4 {
		length := fmt.Sprint(f.Length)
		if f.Length == Variable {
			length = "variable"
		}
		switch {
		case f.PEN == EnterpriseNumber:
			code = append(code, fmt.Sprintf("| %d | `%s` | %s | %s |", f.ID, f.Name, types[f.Type], length))
		case f.Type == TypeBasicList:
			code = append(code, fmt.Sprintf("| %d | `%s` | basicList of %s | variable |", f.ItemID, f.Name, types[f.Item]))
		}
	}
	if len(doc) != len(code) || len(code) != len(staticNames) {
		t.Fatalf("docs/ipfix.md has %d rows, the code %d elements, staticNames %d", len(doc), len(code), len(staticNames))
	}
	for i := range doc {
		if doc[i] != code[i] {
			t.Errorf("row %d:\n doc  %s\n code %s", i, doc[i], code[i])
		}
	}
}
