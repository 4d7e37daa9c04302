/// Absolute positions for the control encodings; ALiBi's positions live in the attention bias.
extension TransformerModel {
    /// Adds each row's position vector to `embedded[N,C]` (nothing for ALiBi).
    func addAbsolutePositions(workspace w: Workspace<Scalar>) {
        guard let table = positionTable(workspace: w) else { return }
        AbsolutePositions.forward(embedded: w.embedded.base, table: table, rows: w.batch * w.time, time: w.time,
                                  channels: config.hiddenSize)
    }

    /// Accumulates dloss/dtable of the learned table from d`embedded`[N,C] in `gradient`.
    func accumulatePositionGradients(embeddedGradient gradient: UnsafePointer<Scalar>, workspace w: Workspace<Scalar>) {
        guard let offset = layout.positionEmbeddings else { return }
        AbsolutePositions.backward(tableGradient: gradients.base + offset, embeddedGradient: gradient,
                                   rows: w.batch * w.time, time: w.time, channels: config.hiddenSize)
    }

    private func positionTable(workspace w: Workspace<Scalar>) -> UnsafePointer<Scalar>? {
        switch config.positionEncoding {
        case .alibi: nil
        case .sinusoidal: UnsafePointer(w.sinusoids?.base)
        case .learned: UnsafePointer(parameters.base + layout.positionEmbeddings!)
        }
    }
}
