package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/model"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/plugin"
)

// modelOptions are the flags that deploy trained models (docs/models.md).
type modelOptions struct {
	models   []string // --model NAME=FILE
	features []string // --model-features NAME=col1,col2,...
	at       []string // --model-at NAME=K

	// loaded are the models by name, for plugin scripts; factories their
	// plugins, in the order given.
	loaded    map[string]plugin.Model
	factories []plugin.Factory
	// meta describes the models for the Parquet metadata.
	meta []modelMeta
}

// modelMeta is one model in a Parquet file's nfstream.models.
type modelMeta struct {
	Name     string   `json:"name"`
	File     string   `json:"file"`
	SHA256   string   `json:"sha256"`
	Features []string `json:"features,omitempty"`
	At       uint64   `json:"at,omitempty"`
}

func (m *modelOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&m.models, "model", nil, "deploy the trained model `NAME=FILE` (XGBoost .json, ONNX-ML .onnx): every flow gets udps.NAME_prediction and, for a classifier, udps.NAME_probability; repeatable (see docs/models.md)")
	fs.StringArrayVar(&m.features, "model-features", nil, "the inputs of model NAME as `NAME=col1,col2,...` (column names, splt_ps_3 for element 3 of splt_ps), instead of the names the model carries")
	fs.StringArrayVar(&m.at, "model-at", nil, "early classification: predict with model NAME when the flow reaches K packets, as `NAME=K` (adds udps.NAME_prediction_packets)")
}

// cutModelFlag splits a NAME=VALUE flag value, checking NAME is a model's name.
func cutModelFlag(flag, v string) (name, value string, err error) {
	name, value, ok := strings.Cut(v, "=")
	if !ok || !plugin.IsIdentifier(name) || value == "" {
		return "", "", usagef("--%s %q: must be NAME=%s with NAME an identifier (letters, digits, _)", flag, v, map[string]string{
			"model": "FILE", "model-features": "col1,col2,...", "model-at": "K"}[flag])
	}
	return name, value, nil
}

// byModel parses the NAME=VALUE values of --flag, each with parse(v,
// VALUE), by name: a NAME given twice, or without its --model NAME=FILE
// (in files), is a usage error.
func byModel[T any](flag string, values []string, files map[string]string, parse func(v, value string) (T, error)) (map[string]T, error) {
	out := map[string]T{}
	for _, v := range values {
		name, value, err := cutModelFlag(flag, v)
		if err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--%s %s given twice", flag, name)
		}
		if _, ok := files[name]; !ok {
			return nil, usagef("--%s %s: no --model %s=FILE", flag, name, name)
		}
		if out[name], err = parse(v, value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// loadModels loads the files of --model and checks every model's features
// against the run's columns, so that a bad model or feature is a usage
// error before any capture is opened.
func (o *options) loadModels() error {
	m := &o.models
	m.loaded, m.factories, m.meta = nil, nil, nil
	files := map[string]string{}
	var names []string // in the order given
	for _, v := range m.models {
		name, file, err := cutModelFlag("model", v)
		if err != nil {
			return err
		}
		if prev, dup := files[name]; dup {
			return usagef("--model %s given twice (%s and %s): each model needs its own name", name, prev, file)
		}
		files[name] = file
		names = append(names, name)
	}
	feats, err := byModel("model-features", m.features, files, func(v, cols string) ([]string, error) {
		list := strings.Split(cols, ",")
		for i := range list {
			list[i] = strings.TrimSpace(list[i])
			if list[i] == "" {
				return nil, usagef("--model-features %q: an empty column name", v)
			}
		}
		return list, nil
	})
	if err != nil {
		return err
	}
	at, err := byModel("model-at", m.at, files, func(v, k string) (uint64, error) {
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil || n == 0 {
			return 0, usagef("--model-at %q: K must be a number of packets, 1 or more", v)
		}
		return n, nil
	})
	if err != nil {
		return err
	}
	run := plugin.RunColumns{Schema: o.schema(), SPLT: o.splt}
	scripts := false
	for _, p := range o.plugins {
		_, _, script := splitPlugin(p)
		scripts = scripts || script
	}
	for _, name := range names {
		file := files[name]
		// One read for the model and its SHA-256, so the metadata names
		// the bytes that were loaded.
		data, err := os.ReadFile(file)
		if err != nil {
			return usagef("--model %s: model: %v", name, err)
		}
		mod, err := model.Parse(file, data)
		if err != nil {
			return usagef("--model %s: %v", name, err)
		}
		sum := sha256.Sum256(data)
		if m.loaded == nil {
			m.loaded = map[string]plugin.Model{}
		}
		meta := modelMeta{Name: name, File: file, SHA256: hex.EncodeToString(sum[:]), Features: feats[name], At: at[name]}
		if meta.Features == nil {
			meta.Features = mod.Features()
		}
		m.meta = append(m.meta, meta)
		m.loaded[name] = mod
		if mod.Features() == nil && feats[name] == nil && scripts && at[name] == 0 {
			// Inputs without names: the model is for the scripts
			// (docs/models.md section 4), which give its values.
			continue
		}
		f, err := plugin.NewModel(plugin.ModelConfig{Name: name, File: file, Model: mod, Features: feats[name], At: at[name]}, run)
		if err != nil {
			return usagef("%v", err)
		}
		m.factories = append(m.factories, f)
	}
	return nil
}

// withModels puts the models' plugins before those of --plugin, so a
// script's on_expire can read udps.NAME_prediction (docs/models.md
// section 2).
func (o *options) withModels() {
	if len(o.models.factories) > 0 {
		o.factories = append(append([]plugin.Factory(nil), o.models.factories...), o.factories...)
	}
}

// modelMetadata is the Parquet metadata nfstream.models: a JSON list of
// the models whose columns the file has (name, file, its SHA-256, the
// features, the packet count of --model-at), so a dataset says which
// model made its predictions.
func (o *options) modelMetadata() []output.KeyValue {
	if len(o.models.meta) == 0 {
		return nil
	}
	b, _ := json.Marshal(o.models.meta)
	return []output.KeyValue{{Key: "nfstream.models", Value: string(b)}}
}
