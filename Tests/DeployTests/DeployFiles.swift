import Foundation
import Yams

/// Paths and parsers for the files under deploy/ (and the operations guide).
enum DeployFiles {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var deployFolder: URL { packageRoot.appendingPathComponent("deploy") }

    static func text(_ relativePath: String) throws -> String {
        let url = packageRoot.appendingPathComponent(relativePath)
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw Failure("cannot read \(relativePath): \(error)")
        }
    }

    /// The YAML files of deploy/kubernetes, by file name, sorted.
    static func kubernetesFileNames() throws -> [String] {
        let folder = deployFolder.appendingPathComponent("kubernetes")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
    }

    /// Every document of a YAML file, each as parsed by Yams (mappings become [String: Any]).
    static func yamlDocuments(_ relativePath: String, interpolatingComposeDefaults: Bool = false) throws -> [Any] {
        var source = try text(relativePath)
        if interpolatingComposeDefaults { source = composeInterpolated(source) }
        do {
            return try Yams.load_all(yaml: source).compactMap { $0 }
        } catch {
            throw Failure("\(relativePath) is not valid YAML: \(error)")
        }
    }

    /// Replaces compose's `${NAME:-default}` and `${NAME-default}` with their defaults, and a
    /// bare `${NAME}` with the empty string, as compose does when the variable is unset.
    static func composeInterpolated(_ source: String) -> String {
        var output = ""
        var rest = Substring(source)
        while let start = rest.range(of: "${") {
            output += rest[..<start.lowerBound]
            guard let close = rest[start.upperBound...].firstIndex(of: "}") else {
                output += rest[start.lowerBound...]
                return output
            }
            let expression = rest[start.upperBound..<close]
            if let separator = expression.range(of: ":-") ?? expression.range(of: "-") {
                output += expression[separator.upperBound...]
            }
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }

    // MARK: systemd units

    /// A systemd unit file: each section's keys with every value given (keys may repeat).
    struct Unit {
        var sections: [String: [String: [String]]] = [:]

        func values(_ section: String, _ key: String) -> [String] { sections[section]?[key] ?? [] }
        func value(_ section: String, _ key: String) -> String? { values(section, key).last }
    }

    static func parseUnit(_ source: String) throws -> Unit {
        var unit = Unit()
        var section: String?
        var pending = ""
        for (number, rawLine) in source.components(separatedBy: "\n").enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty, line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending += line + " "
                continue
            }
            line = pending + line
            pending = ""
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw Failure("line \(number + 1): bad section header \(line)") }
                let name = String(line.dropFirst().dropLast())
                section = name
                unit.sections[name, default: [:]] = unit.sections[name] ?? [:]
                continue
            }
            guard let section else { throw Failure("line \(number + 1): \(line) comes before any [Section]") }
            guard let equals = line.firstIndex(of: "=") else { throw Failure("line \(number + 1): \(line) is not KEY=VALUE") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw Failure("line \(number + 1): \"\(key)\" is not a unit key")
            }
            unit.sections[section, default: [:]][key, default: []].append(value)
        }
        guard pending.isEmpty else { throw Failure("the file ends inside a continued line") }
        return unit
    }

    /// `KEY=value` lines of an environment file (comments and blank lines skipped).
    static func parseEnvironmentFile(_ source: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for (number, rawLine) in source.components(separatedBy: "\n").enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="), !line[..<equals].isEmpty else {
                throw Failure("line \(number + 1): \(line) is not KEY=value")
            }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    // MARK: Dockerfiles

    struct DockerInstruction {
        let keyword: String   // upper-cased
        let arguments: String
        let line: Int
    }

    struct DockerStage {
        let image: String     // with the ARG defaults substituted
        let name: String?
        var instructions: [DockerInstruction] = []

        func all(_ keyword: String) -> [DockerInstruction] { instructions.filter { $0.keyword == keyword } }
    }

    struct Dockerfile {
        var globalArguments: [String: String] = [:]
        var stages: [DockerStage] = []
    }

    static func parseDockerfile(_ source: String) throws -> Dockerfile {
        var instructions: [DockerInstruction] = []
        var pending = ""
        var pendingLine = 0
        for (index, rawLine) in source.components(separatedBy: "\n").enumerated() {
            let trimmed = rawLine.trimmingCharacters(in: .whitespaces)
            // Comment lines are dropped, even in the middle of a continued instruction.
            if trimmed.hasPrefix("#") || (pending.isEmpty && trimmed.isEmpty) { continue }
            if pending.isEmpty { pendingLine = index + 1 }
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast() + " "
                continue
            }
            let whole = (pending + trimmed).trimmingCharacters(in: .whitespaces)
            pending = ""
            guard !whole.isEmpty else { continue }
            let keyword = whole.prefix { !$0.isWhitespace }
            let arguments = whole.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
            guard keyword.allSatisfy(\.isLetter) else { throw Failure("line \(pendingLine): \"\(keyword)\" is not an instruction") }
            instructions.append(DockerInstruction(keyword: keyword.uppercased(), arguments: arguments, line: pendingLine))
        }
        guard pending.isEmpty else { throw Failure("the Dockerfile ends inside a continued line") }

        var dockerfile = Dockerfile()
        for instruction in instructions {
            if instruction.keyword == "FROM" {
                let words = instruction.arguments.split(separator: " ").map(String.init).filter { !$0.hasPrefix("--") }
                guard let image = words.first else { throw Failure("line \(instruction.line): FROM without an image") }
                var name: String?
                if words.count == 3, words[1].uppercased() == "AS" {
                    name = words[2]
                } else if words.count != 1 {
                    throw Failure("line \(instruction.line): FROM \(instruction.arguments) is not FROM IMAGE [AS NAME]")
                }
                dockerfile.stages.append(DockerStage(image: substitute(image, dockerfile.globalArguments), name: name))
            } else if dockerfile.stages.isEmpty {
                guard instruction.keyword == "ARG" else {
                    throw Failure("line \(instruction.line): \(instruction.keyword) before the first FROM")
                }
                let parts = instruction.arguments.split(separator: "=", maxSplits: 1).map(String.init)
                dockerfile.globalArguments[parts[0]] = parts.count == 2 ? parts[1] : ""
            } else {
                dockerfile.stages[dockerfile.stages.count - 1].instructions.append(instruction)
            }
        }
        return dockerfile
    }

    /// `${NAME}` and `$NAME` replaced by the ARG defaults.
    static func substitute(_ text: String, _ arguments: [String: String]) -> String {
        var result = text
        for (name, value) in arguments {
            result = result.replacingOccurrences(of: "${\(name)}", with: value)
            result = result.replacingOccurrences(of: "$\(name)", with: value)
        }
        return result
    }

    /// The JSON array form of ENTRYPOINT, CMD and friends.
    static func execForm(_ instruction: DockerInstruction) throws -> [String] {
        guard let data = instruction.arguments.data(using: .utf8),
              let array = try? JSONSerialization.jsonObject(with: data) as? [String] else {
            throw Failure("line \(instruction.line): \(instruction.keyword) should use the exec form [\"…\"], not \(instruction.arguments)")
        }
        return array
    }
}

/// Typed access into the `Any` trees Yams returns, failing with the path that was missing.
struct YAMLPath {
    let file: String

    func mapping(_ value: Any?, _ path: String) throws -> [String: Any] {
        guard let mapping = value as? [String: Any] else {
            throw DeployFiles.Failure("\(file): \(path) should be a mapping, found \(describe(value))")
        }
        return mapping
    }

    func sequence(_ value: Any?, _ path: String) throws -> [Any] {
        guard let sequence = value as? [Any] else {
            throw DeployFiles.Failure("\(file): \(path) should be a list, found \(describe(value))")
        }
        return sequence
    }

    func string(_ value: Any?, _ path: String) throws -> String {
        guard let string = value as? String else {
            throw DeployFiles.Failure("\(file): \(path) should be a string (quote numbers and Y/N), found \(describe(value))")
        }
        return string
    }

    func strings(_ value: Any?, _ path: String) throws -> [String] {
        try sequence(value, path).enumerated().map { try string($1, "\(path)[\($0)]") }
    }

    func int(_ value: Any?, _ path: String) throws -> Int {
        guard let number = value as? Int else {
            throw DeployFiles.Failure("\(file): \(path) should be an integer, found \(describe(value))")
        }
        return number
    }

    private func describe(_ value: Any?) -> String {
        guard let value else { return "nothing" }
        return "\(type(of: value)) \(value)"
    }
}
