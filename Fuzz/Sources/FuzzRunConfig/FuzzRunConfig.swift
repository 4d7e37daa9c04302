import Collaboration
import FuzzSupport
import Crypto
import Foundation
import Trainer

/// A fixed coordinator key, so that inputs can reach the config decoder behind a valid signature.
private let coordinatorKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
private let coordinatorPublicKey = Array(coordinatorKey.publicKey.rawRepresentation)

/// The first input byte picks a path, the rest is the input:
///   0: `RunConfig.decode` of the bytes;
///   1: the bytes signed by the fixed coordinator key, then `SignedRunConfig(decoding:)` and
///      `verifiedConfig(expectedCoordinator:)` (what a peer does with a config from the DHT);
///   2: the bytes as an encoded `SignedRunConfig` as is (signature checks that must fail cleanly).
/// A config that is accepted must validate, and its canonical bytes must decode to itself.
/// Any crash, hang or sanitizer report is a bug; thrown errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let config: RunConfig?
    switch selector % 3 {
    case 0:
        config = try? RunConfig.decode(input)
    case 1:
        guard let signature = try? coordinatorKey.signature(for: SignedRunConfig.domain + input) else { return 0 }
        let encoded = coordinatorPublicKey + Array(signature) + input
        guard let signed = try? SignedRunConfig(decoding: encoded) else { return 0 }
        precondition(signed.encoded == encoded, "signed run config does not re-encode to its bytes")
        config = try? signed.verifiedConfig(expectedCoordinator: coordinatorPublicKey)
    default:
        guard let signed = try? SignedRunConfig(decoding: input) else { return 0 }
        precondition(signed.encoded == input, "signed run config does not re-encode to its bytes")
        config = try? signed.verifiedConfig()
    }
    guard let config else { return 0 }
    do {
        try config.validate()
        let canonical = try config.canonicalBytes()
        let again = try RunConfig.decode(canonical)
        precondition(again == config, "canonical bytes of \(config) decode to another config")
        _ = config.peakLearningRate
        let signed = try SignedRunConfig(config: config, signingKey: coordinatorKey)
        let verified = try SignedRunConfig(decoding: signed.encoded).verifiedConfig()
        precondition(verified == config, "re-signed config differs")
    } catch {
        preconditionFailure("an accepted run config fails: \(error)")
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzRunConfig_main")
public func fuzzRunConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzRunConfig, seeds: seeds)
}

/// A valid config for each path, and a signed one for path 2.
private func seeds() -> [FuzzSeed] {
    var training = TrainingSettings(model: ModelConfig(hiddenSize: 32, layerCount: 1, headCount: 2, contextLength: 16))
    training.batchSize = 4
    training.temperature = 0.001
    var config = RunConfig(name: "shakespeare", training: training, targetBatchSize: 64)
    let plain = try! config.canonicalBytes()
    config.compression = .int8
    config.dataset = "wikitext"
    config.training.learningRate = 0.01
    config.training.temperature = nil
    config.training.microBatchSize = 2
    let other = try! config.canonicalBytes()
    let signed = try! SignedRunConfig(config: config, signingKey: coordinatorKey).encoded
    return [("decode", [0] + plain), ("decode-int8", [0] + other), ("signed", [1] + plain),
            ("signed-int8", [1] + other), ("encoded", [2] + signed)]
}
