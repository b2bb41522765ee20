// Package model evaluates trained tree ensembles in pure Go, so that a
// model trained in Python on nfstream's features can be deployed in the
// exporter (issue 13, `--model`, docs/models.md).
//
// [Load] reads an XGBoost JSON model (.json, Booster.save_model) or an
// ONNX-ML TreeEnsembleClassifier / TreeEnsembleRegressor graph (.onnx, the
// protobuf read with google.golang.org/protobuf/encoding/protowire, only the
// fields the trees need). Both become one flat array of nodes; [Model.Eval]
// walks every tree for one feature vector, adds the leaves' weights and
// applies the format's output transform, reproducing the numbers Python
// gives: features are converted to float32 before each comparison, as both
// XGBoost and onnxruntime compare in float32, and scores are accumulated in
// float32. The section "Formats" of docs/models.md says what each format
// supports and how labels, probabilities and missing values (NaN) are
// handled.
//
// A loaded Model is immutable: Eval and Predict are safe for concurrent use
// and allocate nothing when the caller's out slice is large enough.
package model
