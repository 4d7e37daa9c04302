import Foundation

/// Small constructors for the generated ONNX messages, which otherwise take a line per field.
extension Onnx_TensorProto {
    /// Float data as `raw_data`: 4 little-endian bytes per value, which is also the memory
    /// layout of every platform Cohort runs on, so the arena's bytes go in unchanged.
    static func floats(name: String, shape: [Int], values: some Collection<Float>) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(DataType.float.rawValue)
        // Slices of the arena are contiguous: copied once, straight into the message.
        tensor.rawData = values.withContiguousStorageIfAvailable { Data(buffer: $0) }
            ?? Array(values).withUnsafeBytes { Data($0) }
        return tensor
    }

    static func integers(name: String, shape: [Int], values: [Int64]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(DataType.int64.rawValue)
        tensor.int64Data = values
        return tensor
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }
}

extension Onnx_ValueInfoProto {
    /// One axis of a graph input or output: fixed, or named so that it can vary per call.
    enum Dimension {
        case fixed(Int)
        case named(String)
    }

    static func tensor(name: String, elementType: Onnx_TensorProto.DataType, shape: [Dimension]) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(elementType.rawValue)
        tensorType.shape.dim = shape.map { dimension in
            var proto = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let size): proto.dimValue = Int64(size)
            case .named(let name): proto.dimParam = name
            }
            return proto
        }
        var value = Onnx_ValueInfoProto()
        value.name = name
        value.type.tensorType = tensorType
        return value
    }
}
