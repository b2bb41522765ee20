package model

import "fmt"

type postTransform uint8

func parseONNX(data []byte) (*Model, error) {
	return nil, fmt.Errorf("onnx: not yet supported")
}
