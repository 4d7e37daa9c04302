import Foundation

/// What the built `cohort` executable's `--help` says about one subcommand.
struct CommandHelp {
    /// The subcommand the help is about, from its USAGE line (["dht", "node"]).
    let path: [String]
    /// Every long option the help mentions, and whether it takes a value (`--listen <listen>`).
    let options: [String: Bool]
    let text: String

    /// Parses ArgumentParser's help text.
    init(text: String) {
        self.text = text
        var usagePath: [String] = []
        if let usage = text.components(separatedBy: "\n").first(where: { $0.hasPrefix("USAGE:") }) {
            let words = usage.dropFirst("USAGE:".count).split(whereSeparator: \.isWhitespace).dropFirst()  // the executable
            usagePath = words.prefix { !$0.hasPrefix("-") && !$0.hasPrefix("[") && !$0.hasPrefix("<") }.map(String.init)
        }
        path = usagePath
        var options: [String: Bool] = [:]
        let characters = Array(text)
        var index = 0
        while index + 2 < characters.count {
            let startsOption = characters[index] == "-" && characters[index + 1] == "-"
                && (characters[index + 2].isLetter || characters[index + 2].isNumber)
                && (index == 0 || !(characters[index - 1].isLetter || characters[index - 1].isNumber || characters[index - 1] == "-"))
            guard startsOption else {
                index += 1
                continue
            }
            var end = index + 2
            while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "-" { end += 1 }
            let name = String(characters[index..<end])
            let takesValue = end + 1 < characters.count && characters[end] == " " && characters[end + 1] == "<"
            options[name] = (options[name] ?? false) || takesValue
            index = end
        }
        self.options = options
    }

    /// The built executable the tests ask, or nil when it has not been built.
    static var executable: URL? {
        let url = DeployFiles.packageRoot.appendingPathComponent(".build/debug/cohort")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    /// Runs `cohort PATH… --help` and parses what it prints.
    static func load(_ path: [String], executable: URL) throws -> CommandHelp {
        let process = Process()
        process.executableURL = executable
        process.arguments = path + ["--help"]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Files, not pipes: a long help text can never block the child on a full pipe.
        let output = folder.appendingPathComponent("output")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        // Wide enough that ArgumentParser does not wrap an option away from its value.
        process.environment = ProcessInfo.processInfo.environment.merging(["COLUMNS": "200"]) { $1 }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw DeployFiles.Failure("cohort \((path + ["--help"]).joined(separator: " ")) did not finish within 60 s")
        }
        process.waitUntilExit()
        return CommandHelp(text: try String(contentsOf: output, encoding: .utf8))
    }
}
