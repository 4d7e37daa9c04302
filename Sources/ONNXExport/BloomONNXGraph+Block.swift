import Trainer

extension BloomONNXGraph.Writer {
    /// out = h + mlp(ln2(h)) with h = x + attention(ln1(x)), as `blockForward`.
    func transformerBlock(_ input: String, block: ParameterLayout.Block, attentionBias: String) -> String {
        let normed = layerNorm(input, weight: block.inputNormWeight, bias: block.inputNormBias)
        let qkv = linear(normed, weight: block.qkvWeight, bias: block.qkvBias)  // [B,T,3C]
        let context = attention(qkv: qkv, bias: attentionBias)  // [B,T,C]
        let projected = linear(context, weight: block.attentionOutputWeight, bias: block.attentionOutputBias)
        let afterAttention = builder.add("Add", [input, projected])
        let postNormed = layerNorm(afterAttention, weight: block.postAttentionNormWeight, bias: block.postAttentionNormBias)
        let expanded = linear(postNormed, weight: block.expandWeight, bias: block.expandBias)  // [B,T,4C]
        let contracted = linear(gelu(expanded), weight: block.contractWeight, bias: block.contractBias)
        return builder.add("Add", [afterAttention, contracted])
    }

    /// softmax(q·kᵀ/√HD + bias)·v per head, on BLOOM's fused layout: per head, q, k and v are
    /// HD columns each, so qkv reshapes to [B,T,NH,3,HD] (`CausalAttention`'s legend).
    func attention(qkv: String, bias: String) -> String {
        let headCount = config.headCount, headDimension = config.headDimension
        let split = builder.add("Reshape", [qkv, builder.integers([0, 0, Int64(headCount), 3, Int64(headDimension)])])
        func part(_ index: Int64) -> String {
            builder.add("Gather", [split, builder.integers([index], shape: [])], attributes: [.int("axis", 3)])  // [B,T,NH,HD]
        }
        let query = builder.add("Transpose", [part(0)], attributes: [.ints("perm", [0, 2, 1, 3])])  // [B,NH,T,HD]
        let keyTransposed = builder.add("Transpose", [part(1)], attributes: [.ints("perm", [0, 2, 3, 1])])  // [B,NH,HD,T]
        let value = builder.add("Transpose", [part(2)], attributes: [.ints("perm", [0, 2, 1, 3])])  // [B,NH,T,HD]
        let products = builder.add("MatMul", [query, keyTransposed])  // [B,NH,T,T]
        let scaled = builder.add("Mul", [products, builder.scalar(1 / Float(headDimension).squareRoot())])
        let scores = builder.add("Add", [scaled, bias])
        let probabilities = builder.add("Softmax", [scores], attributes: [.int("axis", -1)])
        let context = builder.add("MatMul", [probabilities, value])  // [B,NH,T,HD]
        let merged = builder.add("Transpose", [context], attributes: [.ints("perm", [0, 2, 1, 3])])  // [B,T,NH,HD]
        return builder.add("Reshape", [merged, builder.integers([0, 0, Int64(config.hiddenSize)])])
    }

    /// bias[NH,T,T] = slope_h·(j − i) for keys j ≤ i, a large negative number for j > i; T is
    /// read from `input_ids` at run time. slope·(j − i) differs from BLOOM's slope·j by a
    /// constant per row, which the softmax ignores, and stays small at long lengths (ALiBi §3).
    func alibiBias() -> String {
        let shape = builder.add("Shape", [BloomONNXGraph.inputName])
        let length = builder.add("Gather", [shape, builder.integers([1], shape: [])], attributes: [.int("axis", 0)])  // scalar T
        let positions = builder.add("Range", [builder.integers([0], shape: []), length, builder.integers([1], shape: [])])  // [T]
        let keys = builder.add("Unsqueeze", [positions, builder.integers([0])])  // [1,T]: j
        let queries = builder.add("Unsqueeze", [positions, builder.integers([1])])  // [T,1]: i
        let distance = builder.add("Cast", [builder.add("Sub", [keys, queries])],
                                   attributes: [.int("to", Int(Onnx_TensorProto.DataType.float.rawValue))])  // [T,T]
        let slopes = AlibiSlopes.slopes(headCount: config.headCount).map { Float($0) }
        let slopeTensor = builder.initializer("alibi_slopes", shape: [config.headCount, 1, 1], values: slopes)
        let linearBias = builder.add("Mul", [slopeTensor, distance])  // [NH,T,T]
        let future = builder.add("Greater", [keys, queries])  // [T,T]
        return builder.add("Where", [future, builder.scalar(BloomONNXGraph.maskedScore), linearBias])
    }

    /// BLOOM's tanh GELU, ½·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), from elementary operators:
    /// opset 17 has no Gelu (it came in opset 20).
    func gelu(_ x: String) -> String {
        let square = builder.add("Mul", [x, x])
        let cubicFactor = builder.add("Add", [builder.scalar(1), builder.add("Mul", [square, builder.scalar(0.044715)])])
        let argument = builder.add("Mul", [builder.add("Mul", [x, cubicFactor]), builder.scalar(0.797_884_560_802_865_4)])
        let gate = builder.add("Add", [builder.add("Tanh", [argument]), builder.scalar(1)])
        return builder.add("Mul", [builder.add("Mul", [x, builder.scalar(0.5)]), gate])
    }
}
