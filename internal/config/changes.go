package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Changes returns the key paths whose values differ between old and new,
// sorted. A changed source under api.sources is reported by its own path,
// such as "api.sources.ops.distance"; a changed bgp section as "bgp".
func Changes(old, new *Config) []string {
	a, b := flatten(old), flatten(new)

	var changed []string
	for path, value := range a {
		if other, ok := b[path]; !ok || other != value {
			changed = append(changed, path)
		}
	}

	for path := range b {
		if _, ok := a[path]; !ok {
			changed = append(changed, path)
		}
	}

	slices.Sort(changed)

	return changed
}

// flatten renders every leaf of cfg as path = value.
func flatten(cfg *Config) map[string]string {
	out := map[string]string{}
	flattenValue(reflect.ValueOf(cfg).Elem(), "", out)

	return out
}

func flattenValue(v reflect.Value, path string, out map[string]string) {
	if v.Type() == nodeType {
		out[path] = renderNode(v.Interface().(*yaml.Node))

		return
	}

	if s, ok := v.Interface().(fmt.Stringer); ok {
		out[path] = s.String()

		return
	}

	switch v.Kind() {
	case reflect.Struct:
		fields, _ := structFields(v.Type())
		for name, i := range fields {
			flattenValue(v.Field(i), join(path, name), out)
		}
	case reflect.Map:
		for _, key := range v.MapKeys() {
			flattenValue(v.MapIndex(key), join(path, key.String()), out)
		}
	case reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = fmt.Sprint(v.Index(i).Interface())
		}
		out[path] = "[" + strings.Join(items, ",") + "]"
	default:
		out[path] = fmt.Sprint(v.Interface())
	}
}

func renderNode(node *yaml.Node) string {
	if node == nil {
		return ""
	}

	data, err := yaml.Marshal(node)
	if err != nil {
		return fmt.Sprintf("unrenderable: %v", err)
	}

	return string(data)
}
