package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/filter"
)

// Command-line traps users fall into, caught before any work with a usage
// error that says what to type instead (docs/cli.md).

// flagError turns the flag parser's errors into usage errors in our one
// format: the flag, the value as typed, and what the flag takes, without
// the parser's internals (strconv.ParseInt: ...).
func flagError(_ *cobra.Command, err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return &usageError{err}
	}
	f := bad.GetFlag()
	return usagef("--%s %q: %s", f.Name, bad.GetValue(), expects(f, errors.Unwrap(bad)))
}

// expects says what a flag of f's type takes, given why the value was
// refused.
func expects(f *pflag.Flag, cause error) string {
	var num *strconv.NumError
	if errors.As(cause, &num) && errors.Is(num.Err, strconv.ErrRange) {
		return "out of range"
	}
	switch t := f.Value.Type(); {
	case t == "bool":
		return "must be true or false (write --" + f.Name + "=false; a separate word is taken as the BPF filter)"
	case t == "duration":
		return "must be a duration such as 30s, 5m or 1h"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		what := "a whole number"
		if strings.Contains(f.Usage, "seconds") {
			what += " of seconds (no unit)"
		}
		return "must be " + what
	}
	return cause.Error()
}

// boolWords are the values a user may type after a boolean flag as a
// separate word, which the flag parser then leaves as a trailing argument.
var boolWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true}

// checkTrailing catches trailing arguments that are not a BPF filter: the
// value of a boolean flag typed as a separate word (--decode-tunnels
// false), and capture files after the first -r (nfstream -r *.pcap, which
// the shell expands to -r a.pcap b.pcap). raw is the command line as
// typed, args what the parser left.
func checkTrailing(fs *pflag.FlagSet, raw, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if boolWords[strings.ToLower(args[0])] {
		if name := boolFlagBefore(fs, raw, args[0]); name != "" {
			return usagef("%q after --%s is not a BPF filter: a boolean flag takes its value after '=' (--%s=%s)%s",
				args[0], name, name, strings.ToLower(args[0]), negation(fs, name))
		}
	}
	var files []string
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.Mode().IsRegular() {
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		return nil
	}
	// A file name can also be a valid filter word ("tcp", a host name):
	// only a filter that does not compile is taken for file names.
	if _, err := filter.Compile(strings.Join(args, " "), uint32(capture.LinkEthernet), 262144); err == nil {
		return nil
	}
	return usagef("%q is a file, not a BPF filter: give -r before each capture file (-r %s); a shell pattern such as -r *.pcap puts -r before the first file only",
		files[0], strings.Join(files, " -r "))
}

// boolFlagBefore returns the name of the boolean flag that directly
// precedes word in raw, or "".
func boolFlagBefore(fs *pflag.FlagSet, raw []string, word string) string {
	for i := 1; i < len(raw); i++ {
		if raw[i] != word {
			continue
		}
		prev := raw[i-1]
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(prev, "--"):
			f = fs.Lookup(prev[2:])
		case strings.HasPrefix(prev, "-") && len(prev) == 2:
			f = fs.ShorthandLookup(prev[1:])
		}
		if f != nil && f.Value.Type() == "bool" {
			return f.Name
		}
	}
	return ""
}

// negation suggests the --no- form of a flag where there is one.
func negation(fs *pflag.FlagSet, name string) string {
	if fs.Lookup("no-"+name) != nil {
		return ", or --no-" + name
	}
	return ""
}

// negatedBool is the --no-NAME form of a boolean flag that is on by
// default: setting it sets the target to the opposite.
type negatedBool struct{ target *bool }

func (n negatedBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err == nil {
		*n.target = !v
	}
	return err
}
func (n negatedBool) String() string { return "false" }
func (n negatedBool) Type() string   { return "bool" }

// addNegation adds --no-NAME for the boolean flag NAME, which targets.
func addNegation(fs *pflag.FlagSet, name string, target *bool) {
	fs.Var(negatedBool{target}, "no-"+name, "same as --"+name+"=false")
	fs.Lookup("no-" + name).NoOptDefVal = "true"
}

// checkInputs opens every capture file named with -r and reads its header,
// so that a missing file, a folder or a file that is not a capture fails
// the run before the output is touched. Standard input, FIFOs and devices
// are not opened twice: what they deliver can be read only once.
func checkInputs(files []string) error {
	for _, name := range files {
		if name == "-" {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("open %q: %w", name, unwrapPathError(err))
		}
		if st.IsDir() {
			return fmt.Errorf("open %q: is a folder, not a capture file", name)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		src, err := capture.Open(name)
		if err != nil {
			return err
		}
		src.Close()
	}
	return nil
}

// checkOutputNotInput refuses an output path that names one of the input
// files (the run would destroy its own input).
func checkOutputNotInput(out string, files []string) error {
	ost, err := os.Stat(out)
	if err != nil {
		return nil // a new file cannot be an input
	}
	for _, name := range files {
		if name == "-" {
			continue
		}
		if ist, err := os.Stat(name); err == nil && os.SameFile(ost, ist) {
			return usagef("-o %q is the input file %q: choose another output name", out, name)
		}
	}
	return nil
}
