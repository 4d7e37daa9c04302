import Foundation

/// A byte-level text corpus split into training and validation parts.
///
/// Training windows start at positions drawn from a seeded generator whose state is saved with
/// checkpoints, so a resumed run sees exactly the data it would have seen. Validation windows are
/// fixed and evenly spaced, so validation losses are comparable across runs and peers.
public struct TextDataset: Sendable {
    public let name: String
    public let training: [UInt8]
    public let validation: [UInt8]

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Splits `bytes` keeping the last `validationFraction` for validation.
    public init(name: String, bytes: [UInt8], validationFraction: Double = 0.1, contextLength: Int) throws {
        guard validationFraction > 0, validationFraction < 1 else {
            throw Error(description: "validation fraction \(validationFraction) must be between 0 and 1")
        }
        let split = Int(Double(bytes.count) * (1 - validationFraction))
        guard split > contextLength, bytes.count - split > contextLength else {
            throw Error(description: "\(name): \(bytes.count) bytes is too small for windows of \(contextLength + 1) bytes in both the training and validation parts")
        }
        self.name = name
        training = Array(bytes[..<split])
        validation = Array(bytes[split...])
    }

    private init(name: String, training: [UInt8], validation: [UInt8]) {
        self.name = name
        self.training = training
        self.validation = validation
    }

    /// The same validation split with only the first `fraction` of the training split, so that
    /// runs on less data are scored on the same held-out text.
    public func keepingTrainingPrefix(fraction: Double, contextLength: Int) throws -> TextDataset {
        let count = Int(Double(training.count) * fraction)
        guard fraction > 0, fraction <= 1, count > contextLength else {
            throw Error(description: "\(name): \(fraction) of \(training.count) training bytes is too little for windows of \(contextLength + 1) bytes")
        }
        return TextDataset(name: name, training: Array(training.prefix(count)), validation: validation)
    }

    public init(contentsOf url: URL, validationFraction: Double = 0.1, contextLength: Int) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw Error(description: "\(url.path): cannot read data file (\((error as NSError).localizedDescription))")
        }
        try self.init(name: url.lastPathComponent, bytes: [UInt8](data), validationFraction: validationFraction,
                      contextLength: contextLength)
    }

    /// Fills tokens/targets[batch·time] with random training windows; targets are the next bytes.
    public func fillTrainingBatch(
        tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
        batch: Int, time: Int, generator: inout SeededGenerator
    ) {
        for row in 0..<batch {
            let start = Int(generator.next() % UInt64(training.count - time))
            copyWindow(from: training, start: start, row: row, time: time, tokens: tokens, targets: targets)
        }
    }

    /// The number of fixed validation windows of `time` + 1 bytes, at most `limit`.
    public func validationWindowCount(time: Int, limit: Int) -> Int {
        min(limit, (validation.count - 1) / time)
    }

    /// Fills rows with validation windows `first ..< first + batch`, spread evenly over the split.
    public func fillValidationBatch(
        tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
        first: Int, batch: Int, time: Int, windowCount: Int
    ) {
        let spacing = (validation.count - time - 1) / max(1, windowCount - 1)
        for row in 0..<batch {
            let start = min((first + row) * spacing, validation.count - time - 1)
            copyWindow(from: validation, start: start, row: row, time: time, tokens: tokens, targets: targets)
        }
    }

    private func copyWindow(
        from bytes: [UInt8], start: Int, row: Int, time: Int,
        tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>
    ) {
        for t in 0..<time {
            tokens[row * time + t] = Int32(bytes[start + t])
            targets[row * time + t] = Int32(bytes[start + t + 1])
        }
    }
}
