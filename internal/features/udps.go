package features

// UDPS holds the values plugins set on one flow (NFStream's flow.udps), in
// the order the names were first set. A value is nil (None), int64,
// float64, bool, string or []any of these; while the flow is metered a
// plugin may also keep a value of its own type there (see Exporter), which
// the meter converts when the flow expires.
type UDPS struct {
	Names  []string
	Values []any
	// Setters names the plugin that first set each value, for errors.
	Setters []string
}

// Exporter is a plugin's own representation of a value, converted to one
// of the plain value types when the flow expires.
type Exporter interface {
	ExportValue() (any, error)
}

// Index returns the position of name, or -1.
func (u *UDPS) Index(name string) int {
	if u == nil {
		return -1
	}
	for i, n := range u.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// Get returns the value of name and whether it is set.
func (u *UDPS) Get(name string) (any, bool) {
	if i := u.Index(name); i >= 0 {
		return u.Values[i], true
	}
	return nil, false
}

// Set sets name to v; a new name goes last, set by setter.
func (u *UDPS) Set(name string, v any, setter string) {
	if i := u.Index(name); i >= 0 {
		u.Values[i] = v
		return
	}
	u.Names = append(u.Names, name)
	u.Values = append(u.Values, v)
	u.Setters = append(u.Setters, setter)
}

// Pop removes name (Python's del flow.udps.name) and returns its value and
// whether it was set; the other names keep their order.
func (u *UDPS) Pop(name string) (any, bool) {
	i := u.Index(name)
	if i < 0 {
		return nil, false
	}
	v := u.Values[i]
	u.Names = append(u.Names[:i], u.Names[i+1:]...)
	u.Values = append(u.Values[:i], u.Values[i+1:]...)
	u.Setters = append(u.Setters[:i], u.Setters[i+1:]...)
	return v, true
}
