package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file decodes a YAML node tree into Config by walking it against the
// struct's yaml tags. yaml.v3's own strict mode (Decoder.KnownFields)
// reports unknown keys by Go type name. The walker reports them by key path
// and line instead, and lists the keys that are allowed at that level.

// Error is a configuration error at one key.
type Error struct {
	// Path is the key path, such as "kernel.protocol" or
	// "api.sources.ops.distance".
	Path string

	// Line is the line of the key in the file, or zero when unknown.
	Line int

	// Msg describes the problem and what is allowed.
	Msg string
}

// Error formats the error as "line N: PATH: MSG".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}

	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// scalarParser is implemented by the config's own scalar types (durations,
// file modes, id ranges).
type scalarParser interface {
	parseScalar(value string) error
}

var nodeType = reflect.TypeFor[*yaml.Node]()

// decoder walks a node tree and records the line of every key it sets, so
// that validation errors can name lines too.
type decoder struct {
	lines map[string]int
}

func decodeNode(root *yaml.Node, path string, cfg *Config) error {
	d := &decoder{lines: map[string]int{}}
	if err := d.value(root, path, reflect.ValueOf(cfg).Elem()); err != nil {
		return err
	}

	cfg.lines = d.lines

	return nil
}

func (d *decoder) value(node *yaml.Node, path string, v reflect.Value) error {
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}

	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(node))

		return nil
	}

	if p, ok := v.Addr().Interface().(scalarParser); ok {
		return d.custom(node, path, p)
	}

	switch v.Kind() {
	case reflect.Struct:
		return d.mapping(node, path, v)
	case reflect.Map:
		return d.dict(node, path, v)
	case reflect.Slice:
		return d.sequence(node, path, v)
	default:
		return d.scalar(node, path, v)
	}
}

func (d *decoder) custom(node *yaml.Node, path string, p scalarParser) error {
	if err := requireScalar(node, path); err != nil {
		return err
	}

	if err := p.parseScalar(node.Value); err != nil {
		return &Error{Path: path, Line: node.Line, Msg: fmt.Sprintf("%s %s", quote(node), err)}
	}

	return nil
}

// mapping decodes a mapping into a struct by yaml tags. A null value keeps
// the struct's defaults, so that "log:" alone is allowed.
func (d *decoder) mapping(node *yaml.Node, path string, v reflect.Value) error {
	if isNull(node) {
		return nil
	}

	if node.Kind != yaml.MappingNode {
		return &Error{Path: pathOrTop(path), Line: node.Line, Msg: fmt.Sprintf("expected a mapping of keys, found %s", describe(node))}
	}

	fields, names := structFields(v.Type())
	seen := map[string]int{}

	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		keyPath := join(path, key.Value)

		if line, dup := seen[key.Value]; dup {
			return &Error{Path: keyPath, Line: key.Line, Msg: fmt.Sprintf("duplicate key, first set on line %d", line)}
		}
		seen[key.Value] = key.Line

		index, ok := fields[key.Value]
		if !ok {
			return &Error{Path: keyPath, Line: key.Line, Msg: fmt.Sprintf("unknown key: %s allows %s", pathOrTop(path), strings.Join(names, ", "))}
		}

		d.lines[keyPath] = key.Line
		if err := d.value(val, keyPath, v.Field(index)); err != nil {
			return err
		}
	}

	return nil
}

// dict decodes a mapping with free keys, such as api.sources.
func (d *decoder) dict(node *yaml.Node, path string, v reflect.Value) error {
	if isNull(node) {
		return nil
	}

	if node.Kind != yaml.MappingNode {
		return &Error{Path: path, Line: node.Line, Msg: fmt.Sprintf("expected a mapping of names, found %s", describe(node))}
	}

	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}

	for i := 0; i+1 < len(node.Content); i += 2 {
		key, val := node.Content[i], node.Content[i+1]
		keyPath := join(path, key.Value)

		if v.MapIndex(reflect.ValueOf(key.Value)).IsValid() {
			return &Error{Path: keyPath, Line: key.Line, Msg: "duplicate key"}
		}

		elem := reflect.New(v.Type().Elem()).Elem()
		d.lines[keyPath] = key.Line
		if err := d.value(val, keyPath, elem); err != nil {
			return err
		}

		v.SetMapIndex(reflect.ValueOf(key.Value), elem)
	}

	return nil
}

func (d *decoder) sequence(node *yaml.Node, path string, v reflect.Value) error {
	if node.Kind != yaml.SequenceNode {
		return &Error{Path: path, Line: node.Line, Msg: fmt.Sprintf("expected a list, found %s", describe(node))}
	}

	list := reflect.MakeSlice(v.Type(), len(node.Content), len(node.Content))
	for i, item := range node.Content {
		if err := d.value(item, fmt.Sprintf("%s[%d]", path, i), list.Index(i)); err != nil {
			return err
		}
	}

	v.Set(list)

	return nil
}

func (d *decoder) scalar(node *yaml.Node, path string, v reflect.Value) error {
	if err := requireScalar(node, path); err != nil {
		return err
	}

	bad := func(format string, args ...any) error {
		return &Error{Path: path, Line: node.Line, Msg: fmt.Sprintf("%s %s", quote(node), fmt.Sprintf(format, args...))}
	}

	switch v.Kind() {
	case reflect.String:
		v.SetString(node.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(node.Value)
		if err != nil || node.Tag != "!!bool" {
			return bad("is not a boolean: use true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(node.Value, 10, v.Type().Bits())
		if err != nil || node.Tag != "!!int" {
			return bad("is not an integer")
		}
		v.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(node.Value, 10, v.Type().Bits())
		if err != nil || node.Tag != "!!int" {
			return bad("is not an integer from 0 to %d", uint64(1)<<v.Type().Bits()-1)
		}
		v.SetUint(n)
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}

	return nil
}

func requireScalar(node *yaml.Node, path string) error {
	if node.Kind != yaml.ScalarNode || isNull(node) {
		return &Error{Path: path, Line: node.Line, Msg: fmt.Sprintf("expected a value, found %s", describe(node))}
	}

	return nil
}

// structFields maps yaml tag names to field indexes, and returns the names
// in declaration order for error messages.
func structFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string

	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}

		fields[name] = i
		names = append(names, name)
	}

	return fields, slices.Clip(names)
}

func isNull(node *yaml.Node) bool {
	return node.Kind == yaml.ScalarNode && node.Tag == "!!null"
}

func describe(node *yaml.Node) string {
	switch node.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}

	if isNull(node) {
		return `no value (write "" for an empty string)`
	}

	return "the value " + quote(node)
}

// quote formats a scalar as the file has it: strings quoted, numbers and
// booleans bare.
func quote(node *yaml.Node) string {
	if node.Tag == "!!str" {
		return strconv.Quote(node.Value)
	}

	return node.Value
}

func join(path, key string) string {
	if path == "" {
		return key
	}

	return path + "." + key
}

func pathOrTop(path string) string {
	if path == "" {
		return "the top level"
	}

	return path
}
