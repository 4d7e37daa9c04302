/// Dropout and stochastic depth inside forward and backward (see `TrainingNoise`).
///
/// Each mask multiplies a value in forward and that value's gradient in backward, redrawn from
/// the same seed, so nothing extra is stored. Without noise every helper leaves the computation
/// exactly as it was.
extension TransformerModel {
    /// Embedding dropout on the embedding LayerNorm's output [N,C] (forward) or its gradient (backward).
    func dropEmbeddingOutput(_ values: UnsafeMutablePointer<Scalar>, workspace w: Workspace<Scalar>) {
        guard let noise = activeNoise, noise.dropout > 0 else { return }
        noise.mask(rate: noise.dropout, site: .embedding).applyPerSequence(
            to: values, sequences: w.batch, first: noise.firstSequence, valuesPerSequence: w.time * config.hiddenSize)
    }

    /// output[N,C] = residual + branch, where `compute(into, accumulate)` writes the branch (a
    /// Linear's output). Without masks the branch accumulates onto the copied residual as it always
    /// has; with them it is computed into `w.branch`, masked, then added.
    func addResidualBranch(
        output: UnsafeMutablePointer<Scalar>, residual: UnsafePointer<Scalar>, layer: Int, site: TrainingNoise.Site,
        workspace w: Workspace<Scalar>, compute: (UnsafeMutablePointer<Scalar>, Bool) -> Void
    ) {
        let count = w.batch * w.time * config.hiddenSize
        guard branchIsMasked(layer: layer) else {
            output.update(from: residual, count: count)
            compute(output, true)
            return
        }
        let branch = w.branch.base
        compute(branch, false)
        maskBranch(branch, layer: layer, site: site, workspace: w)
        for index in 0..<count { output[index] = residual[index] + branch[index] }
    }

    /// What a residual branch's output receives from dloss/dout[N,C]: the same gradient, or its
    /// copy in `w.branch` times the branch's mask.
    func residualBranchGradient(
        _ outputGradient: UnsafePointer<Scalar>, layer: Int, site: TrainingNoise.Site, workspace w: Workspace<Scalar>
    ) -> UnsafePointer<Scalar> {
        guard branchIsMasked(layer: layer) else { return outputGradient }
        w.branch.base.update(from: outputGradient, count: w.batch * w.time * config.hiddenSize)
        maskBranch(w.branch.base, layer: layer, site: site, workspace: w)
        return UnsafePointer(w.branch.base)
    }

    /// Dropout for block `layer`'s attention probabilities, if any.
    func attentionDropout(layer: Int) -> AttentionDropout? {
        guard let noise = activeNoise, noise.attentionDropout > 0 else { return nil }
        return AttentionDropout(mask: noise.mask(rate: noise.attentionDropout, site: .attentionProbabilities, layer: layer),
                                firstSequence: noise.firstSequence)
    }

    private func branchIsMasked(layer: Int) -> Bool {
        guard let noise = activeNoise else { return false }
        return noise.dropout > 0 || noise.depthRate(layer: layer, layerCount: config.layerCount) > 0
    }

    /// Residual dropout, then stochastic depth's one draw per sequence, shared by both branches of
    /// the block so that a dropped block is skipped whole.
    private func maskBranch(_ values: UnsafeMutablePointer<Scalar>, layer: Int, site: TrainingNoise.Site, workspace w: Workspace<Scalar>) {
        guard let noise = activeNoise else { return }
        let perSequence = w.time * config.hiddenSize
        noise.mask(rate: noise.dropout, site: site, layer: layer).applyPerSequence(
            to: values, sequences: w.batch, first: noise.firstSequence, valuesPerSequence: perSequence)
        let depth = noise.mask(rate: noise.depthRate(layer: layer, layerCount: config.layerCount), site: .depth, layer: layer)
        guard depth.rate > 0 else { return }
        for sequence in 0..<w.batch {
            let scale: Scalar = depth.keyed(noise.firstSequence + sequence).unitScale()
            let slice = values + sequence * perSequence
            for index in 0..<perSequence { slice[index] *= scale }
        }
    }
}
