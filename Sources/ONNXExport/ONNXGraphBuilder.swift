/// Accumulates one ONNX graph: nodes in topological order, their initializers, and a fresh
/// name for every value, so that the model code reads as a sequence of operator calls.
/// A class so that one call can take another's result as an argument (`add("Mul", [x, scalar(2)])`),
/// which a mutating struct method would reject as overlapping access.
final class ONNXGraphBuilder {
    private(set) var graph = Onnx_GraphProto()
    private var valueCount = 0

    init(name: String) {
        graph.name = name
    }

    /// Appends a node and returns the name of its single output.
    func add(
        _ operatorType: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = [], output: String? = nil
    ) -> String {
        let result = output ?? freshName(operatorType)
        var node = Onnx_NodeProto()
        node.opType = operatorType
        node.name = result
        node.input = inputs
        node.output = [result]
        node.attribute = attributes
        graph.node.append(node)
        return result
    }

    /// Stores float data under `name` and returns the name.
    func initializer(_ name: String, shape: [Int], values: some Collection<Float>) -> String {
        graph.initializer.append(.floats(name: name, shape: shape, values: values))
        return name
    }

    /// A float scalar, for the constants of elementwise arithmetic.
    func scalar(_ value: Float) -> String {
        let name = freshName("scalar")
        graph.initializer.append(.floats(name: name, shape: [], values: [value]))
        return name
    }

    /// An int64 tensor, for shapes, axes and indices.
    func integers(_ values: [Int64], shape: [Int]? = nil) -> String {
        let name = freshName("integers")
        graph.initializer.append(.integers(name: name, shape: shape ?? [values.count], values: values))
        return name
    }

    func addInput(_ value: Onnx_ValueInfoProto) { graph.input.append(value) }
    func addOutput(_ value: Onnx_ValueInfoProto) { graph.output.append(value) }

    private func freshName(_ stem: String) -> String {
        valueCount += 1
        return "\(stem)_\(valueCount)"
    }
}
