/// The one text form of an aggregation, shared by run configs (a JSON string), command-line
/// flags and logs: `mean`, `trimmed-mean[:fraction=F]`, `centered-clip[:tau=T][,iterations=L]`
/// (parameters left out take their defaults).
extension Aggregation: CustomStringConvertible, Codable {
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public var description: String {
        switch self {
        case .mean: "mean"
        case .trimmedMean(let fraction): "trimmed-mean:fraction=\(fraction)"
        case .centeredClip(let tau, let iterations): "centered-clip:tau=\(tau),iterations=\(iterations)"
        }
    }

    /// Parses the text form and checks the parameters' ranges.
    public init(parsing text: String) throws {
        let method = text.prefix { $0 != ":" }
        var parameters = try Self.parameters(text.dropFirst(method.count + 1), in: text)
        func take(_ name: String, default fallback: Double) -> Double {
            parameters.removeValue(forKey: name) ?? fallback
        }
        switch method {
        case "mean":
            self = .mean
        case "trimmed-mean":
            self = .trimmedMean(fraction: take("fraction", default: Self.defaultTrimFraction))
        case "centered-clip":
            let tau = take("tau", default: Self.defaultClipTau)
            let iterations = take("iterations", default: Double(Self.defaultClipIterations))
            guard iterations == iterations.rounded(), abs(iterations) <= Double(Self.maximumClipIterations) else {
                throw ParseError(
                    description: "aggregation \"\(text)\": iterations must be a whole number from 1 to \(Self.maximumClipIterations)")
            }
            self = .centeredClip(tau: tau, iterations: Int(iterations))
        default:
            throw ParseError(description: "aggregation \"\(text)\" is not mean, trimmed-mean or centered-clip")
        }
        if let unknown = parameters.keys.sorted().first {
            throw ParseError(description: "aggregation \"\(text)\": \(method) has no parameter \"\(unknown)\"")
        }
        if let problem {
            throw ParseError(description: "aggregation \"\(text)\": \(problem)")
        }
    }

    /// `name=value` pairs separated by commas, each value a finite number.
    private static func parameters(_ list: Substring, in text: String) throws -> [String: Double] {
        var parameters: [String: Double] = [:]
        for pair in list.split(separator: ",", omittingEmptySubsequences: false) where !list.isEmpty {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
                throw ParseError(description: "aggregation \"\(text)\": \"\(pair)\" is not name=number")
            }
            guard parameters.updateValue(value, forKey: String(parts[0])) == nil else {
                throw ParseError(description: "aggregation \"\(text)\": \"\(parts[0])\" is given twice")
            }
        }
        return parameters
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch let error as ParseError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
