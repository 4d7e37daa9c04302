import Foundation

/// One `cohort …` command line found in a deploy file.
struct Invocation: CustomStringConvertible, Sendable {
    /// Where it was found, e.g. "compose.yaml: services.peer-1.command".
    let source: String
    /// The arguments after the executable.
    let arguments: [String]

    var description: String { "\(source): cohort \(arguments.joined(separator: " "))" }

    /// The leading words that name the subcommand: ["coordinator"], ["dht", "node"], [] for the root.
    var subcommandPath: [String] { Array(arguments.prefix { !$0.hasPrefix("-") }) }

    /// Every `--name` given, with the word that follows it when that word is not itself an
    /// option (`--name=value` is split the same way).
    var options: [(name: String, value: String?)] {
        var result: [(String, String?)] = []
        var index = subcommandPath.count
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--") else { continue }
            if let equals = word.firstIndex(of: "=") {
                result.append((String(word[..<equals]), String(word[word.index(after: equals)...])))
            } else if index < arguments.count, !arguments[index].hasPrefix("-") {
                result.append((word, arguments[index]))
                index += 1
            } else {
                result.append((word, nil))
            }
        }
        return result
    }

    func values(of option: String) -> [String] { options.filter { $0.name == option }.compactMap(\.value) }
}

/// Collects the `cohort` command lines from compose, Kubernetes, systemd, the Dockerfile and
/// the code blocks of docs/operations.md.
enum InvocationCollector {
    static func all() throws -> [Invocation] {
        try compose() + kubernetes() + systemd() + dockerfile() + operationsGuide()
    }

    /// The image's ENTRYPOINT, which compose and Kubernetes prepend to their commands.
    static func imageEntrypoint() throws -> [String] {
        let dockerfile = try DeployFiles.parseDockerfile(try DeployFiles.text("deploy/Dockerfile"))
        guard let entrypoint = dockerfile.stages.last?.all("ENTRYPOINT").last else {
            throw DeployFiles.Failure("deploy/Dockerfile: the final stage has no ENTRYPOINT")
        }
        return try DeployFiles.execForm(entrypoint)
    }

    static func compose() throws -> [Invocation] {
        let file = "deploy/compose.yaml"
        let yaml = YAMLPath(file: file)
        guard let document = try DeployFiles.yamlDocuments(file, interpolatingComposeDefaults: true).first else {
            throw DeployFiles.Failure("\(file) is empty")
        }
        let services = try yaml.mapping(try yaml.mapping(document, "the file")["services"], "services")
        let entrypoint = try imageEntrypoint()
        var found: [Invocation] = []
        for (name, value) in services.sorted(by: { $0.key < $1.key }) {
            let service = try yaml.mapping(value, "services.\(name)")
            let command: [String]
            if let text = service["command"] as? String {
                command = text.split(whereSeparator: \.isWhitespace).map(String.init)
            } else {
                command = try yaml.strings(service["command"], "services.\(name).command")
            }
            let executable = try service["entrypoint"].map { try yaml.strings($0, "services.\(name).entrypoint") } ?? entrypoint
            found += try cohortInvocation(executable + command, source: "\(file): services.\(name)")
        }
        return found
    }

    static func kubernetes() throws -> [Invocation] {
        let entrypoint = try imageEntrypoint()
        var found: [Invocation] = []
        for name in try DeployFiles.kubernetesFileNames() {
            let file = "deploy/kubernetes/\(name)"
            let yaml = YAMLPath(file: file)
            for (index, document) in try DeployFiles.yamlDocuments(file).enumerated() {
                let object = try yaml.mapping(document, "document \(index)")
                for (path, container) in try KubernetesObjects.containers(of: object, yaml: yaml) {
                    let command = try container["command"].map { try yaml.strings($0, "\(path).command") } ?? entrypoint
                    let arguments = try container["args"].map { try yaml.strings($0, "\(path).args") } ?? []
                    found += try cohortInvocation(command + arguments, source: "\(file): \(path)")
                }
            }
        }
        return found
    }

    static func systemd() throws -> [Invocation] {
        let folder = DeployFiles.deployFolder.appendingPathComponent("systemd")
        var found: [Invocation] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where name.hasSuffix(".service") {
            let file = "deploy/systemd/\(name)"
            let unit = try DeployFiles.parseUnit(try DeployFiles.text(file))
            for command in unit.values("Service", "ExecStart") + unit.values("Service", "ExecStartPre") {
                // A leading -, @, + or ! changes how systemd runs the command, not the command.
                let words = command.drop { "-@+!:".contains($0) }.split(whereSeparator: \.isWhitespace).map(String.init)
                    // `$NAME` (unbraced) expands to zero or more words from the environment file.
                    .filter { !($0.hasPrefix("$") && !$0.hasPrefix("${")) }
                found += try cohortInvocation(words, source: "\(file): ExecStart")
            }
        }
        return found
    }

    static func dockerfile() throws -> [Invocation] {
        let dockerfile = try DeployFiles.parseDockerfile(try DeployFiles.text("deploy/Dockerfile"))
        guard let last = dockerfile.stages.last else { return [] }
        let entrypoint = try imageEntrypoint()
        let command = try last.all("CMD").last.map(DeployFiles.execForm) ?? []
        return try cohortInvocation(entrypoint + command, source: "deploy/Dockerfile: ENTRYPOINT + CMD")
    }

    /// Command lines in the operations guide's code blocks that start with `cohort` or a path to it.
    static func operationsGuide() throws -> [Invocation] {
        let file = "docs/operations.md"
        var found: [Invocation] = []
        var inBlock = false
        for (number, line) in try DeployFiles.text(file).components(separatedBy: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inBlock.toggle()
                continue
            }
            let indented = line.hasPrefix("    ")
            guard inBlock || indented else { continue }
            // Drop a trailing comment and a shell prompt.
            var text = trimmed
            if let hash = text.range(of: " #") { text = String(text[..<hash.lowerBound]) }
            if text.hasPrefix("$ ") { text.removeFirst(2) }
            let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = words.first, first == "cohort" || first.hasSuffix("/cohort") else { continue }
            found.append(Invocation(source: "\(file):\(number + 1)", arguments: Array(words.dropFirst())))
        }
        return found
    }

    /// The invocation in `words` when they run cohort; an error when a deploy command runs
    /// something else, since every command in these files is meant to be cohort.
    private static func cohortInvocation(_ words: [String], source: String) throws -> [Invocation] {
        guard let executable = words.first else { throw DeployFiles.Failure("\(source): no command at all") }
        guard executable == "cohort" || executable.hasSuffix("/cohort") else {
            throw DeployFiles.Failure("\(source): runs \(executable), not cohort")
        }
        return [Invocation(source: source, arguments: Array(words.dropFirst()))]
    }
}

/// Where the pod templates and containers are in the workload kinds used here.
enum KubernetesObjects {
    static let workloadKinds: Set = ["Deployment", "StatefulSet", "DaemonSet", "Job"]

    /// Each container (and init container) with a readable path such as "StatefulSet/cohort-coordinator/coordinator".
    static func containers(of object: [String: Any], yaml: YAMLPath) throws -> [(String, [String: Any])] {
        guard let kind = object["kind"] as? String, workloadKinds.contains(kind) else { return [] }
        let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? "?"
        let podSpec = try podSpec(of: object, yaml: yaml)
        var result: [(String, [String: Any])] = []
        for key in ["initContainers", "containers"] {
            guard let list = podSpec[key] else { continue }
            for (index, value) in try yaml.sequence(list, "\(kind)/\(name).spec.template.spec.\(key)").enumerated() {
                let container = try yaml.mapping(value, "\(kind)/\(name) \(key)[\(index)]")
                let containerName = container["name"] as? String ?? "\(index)"
                result.append(("\(kind)/\(name)/\(containerName)", container))
            }
        }
        return result
    }

    static func podSpec(of object: [String: Any], yaml: YAMLPath) throws -> [String: Any] {
        let spec = try yaml.mapping(object["spec"], "spec")
        let template = try yaml.mapping(spec["template"], "spec.template")
        return try yaml.mapping(template["spec"], "spec.template.spec")
    }
}
