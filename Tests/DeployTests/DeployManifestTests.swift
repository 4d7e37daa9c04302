import Foundation
import Testing

/// deploy/ cannot be run here (no container engine, no cluster, no systemd as PID 1), so these
/// tests read every manifest, check the structure each one needs, and check that every `cohort`
/// command line in them uses subcommands and options the built executable really has.
@Suite struct DeployManifestTests {
    // MARK: compose

    @Test func composeRunsACoordinatorAndPeersThatJoinIt() throws {
        let file = "deploy/compose.yaml"
        let yaml = YAMLPath(file: file)
        let documents = try DeployFiles.yamlDocuments(file, interpolatingComposeDefaults: true)
        try #require(documents.count == 1, "\(file) should hold one YAML document")
        let root = try yaml.mapping(documents[0], "the file")
        let services = try yaml.mapping(root["services"], "services")
        let declaredVolumes = Set((root["volumes"] as? [String: Any] ?? [:]).keys)

        let invocations = try InvocationCollector.compose()
        let bySource = Dictionary(uniqueKeysWithValues: invocations.map { ($0.source, $0) })
        func invocation(_ name: String) throws -> Invocation {
            try #require(bySource["\(file): services.\(name)"], "no cohort command for service \(name)")
        }

        for (name, value) in services {
            let service = try yaml.mapping(value, "services.\(name)")
            let image = try yaml.string(service["image"], "services.\(name).image")
            #expect(!image.isEmpty, "services.\(name) has an empty image")
            if let build = service["build"] {
                let build = try yaml.mapping(build, "services.\(name).build")
                let dockerfile = try yaml.string(build["dockerfile"], "services.\(name).build.dockerfile")
                let context = try yaml.string(build["context"], "services.\(name).build.context")
                let resolved = DeployFiles.deployFolder.appendingPathComponent(context).appendingPathComponent(dockerfile)
                #expect(FileManager.default.fileExists(atPath: resolved.standardizedFileURL.path),
                        "services.\(name).build names \(context)/\(dockerfile), which does not exist")
            }
            // Every named volume a service mounts is declared at the top level.
            let serviceMounts = try service["volumes"].map { try yaml.strings($0, "services.\(name).volumes") } ?? []
            for (index, mount) in serviceMounts.enumerated() {
                let source = String(mount.split(separator: ":").first ?? "")
                if !source.hasPrefix(".") && !source.hasPrefix("/") {
                    #expect(declaredVolumes.contains(source), "services.\(name).volumes[\(index)] uses undeclared volume \(source)")
                }
            }
        }

        // The coordinator: serves the dashboard on all interfaces, publishes it, keeps its state on a volume.
        let coordinator = try yaml.mapping(services["coordinator"], "services.coordinator")
        let coordinatorCommand = try invocation("coordinator")
        #expect(coordinatorCommand.subcommandPath == ["coordinator"])
        #expect(coordinatorCommand.values(of: "--run").count == 1, "the coordinator needs --run")
        #expect(coordinatorCommand.values(of: "--listen") == ["0.0.0.0:7000"])
        #expect(coordinatorCommand.values(of: "--http") == ["0.0.0.0:8080"],
                "inside a container the dashboard must listen on 0.0.0.0 to be reachable through the published port")
        let ports = try yaml.strings(coordinator["ports"], "services.coordinator.ports")
        #expect(ports.contains { $0.hasSuffix(":8080") }, "the coordinator should publish the dashboard port 8080: \(ports)")
        #expect(ports.contains { $0.hasSuffix(":7000") }, "the coordinator should publish the DHT port 7000: \(ports)")
        let mounts = try yaml.strings(coordinator["volumes"], "services.coordinator.volumes")
        let dataMount = try #require(mounts.first { $0.hasSuffix(":/data") }, "the coordinator needs a volume at /data")
        _ = dataMount
        for option in ["--state-dir", "--identity"] {
            for value in coordinatorCommand.values(of: option) {
                #expect(value.hasPrefix("/data/"), "the coordinator's \(option) \(value) is outside its /data volume")
            }
        }

        // The peers: at least three (services or replicas), each joining the coordinator and
        // announcing a name the others can dial.
        let peerNames = services.keys.filter { $0 != "coordinator" }.sorted()
        var peerCount = 0
        var announced: [String] = []
        for name in peerNames {
            let service = try yaml.mapping(services[name], "services.\(name)")
            let command = try invocation(name)
            #expect(command.subcommandPath == ["peer"], "services.\(name) should run cohort peer")
            #expect(command.values(of: "--join") == ["coordinator:7000"], "services.\(name) should join coordinator:7000")
            let replicas = (service["deploy"] as? [String: Any])?["replicas"] as? Int ?? 1
            peerCount += replicas
            if !command.options.contains(where: { $0.name == "--client-mode" }) {
                let announce = command.values(of: "--announce")
                #expect(announce.count == 1, "services.\(name) accepts connections, so it must --announce a reachable name")
                if replicas == 1 {
                    #expect(announce == [name], "services.\(name) should announce its service name, which compose resolves")
                }
                announced += announce
                #expect(command.values(of: "--listen").first?.hasPrefix("0.0.0.0:") == true,
                        "services.\(name) should listen on 0.0.0.0 with a fixed port")
            }
            let dependsOn = service["depends_on"]
            let dependsOnCoordinator = (dependsOn as? [String])?.contains("coordinator") == true
                || (dependsOn as? [String: Any])?["coordinator"] != nil
            #expect(dependsOnCoordinator, "services.\(name) should start after the coordinator")
        }
        #expect(peerCount >= 3, "compose should start at least three peers, found \(peerCount)")
        #expect(Set(announced).count == announced.count, "two peers announce the same name: \(announced)")
    }

    // MARK: Kubernetes

    @Test func kubernetesManifestsParseAndKustomizationListsThemAll() throws {
        let names = try DeployFiles.kubernetesFileNames()
        try #require(names.contains("kustomization.yaml"))
        var kinds: [String] = []
        for name in names where name != "kustomization.yaml" {
            let file = "deploy/kubernetes/\(name)"
            let yaml = YAMLPath(file: file)
            let documents = try DeployFiles.yamlDocuments(file)
            #expect(!documents.isEmpty, "\(file) is empty")
            for (index, document) in documents.enumerated() {
                let object = try yaml.mapping(document, "document \(index)")
                let apiVersion = try yaml.string(object["apiVersion"], "apiVersion")
                let kind = try yaml.string(object["kind"], "kind")
                let metadata = try yaml.mapping(object["metadata"], "metadata")
                let objectName = try yaml.string(metadata["name"], "metadata.name")
                #expect(!apiVersion.isEmpty && !objectName.isEmpty)
                kinds.append(kind)
            }
        }
        #expect(kinds.contains("StatefulSet") && kinds.contains("Service") && kinds.contains("Deployment"), "found \(kinds)")

        let file = "deploy/kubernetes/kustomization.yaml"
        let yaml = YAMLPath(file: file)
        let kustomization = try yaml.mapping(try DeployFiles.yamlDocuments(file).first, "the file")
        #expect(try yaml.string(kustomization["kind"], "kind") == "Kustomization")
        let resources = try yaml.strings(kustomization["resources"], "resources")
        #expect(Set(resources) == Set(names.filter { $0 != "kustomization.yaml" }),
                "kustomization.yaml lists \(resources), the folder holds \(names)")
    }

    @Test func coordinatorStatefulSetKeepsItsStateAndIsProbed() throws {
        let objects = try kubernetesObjects()
        let statefulSet = try #require(objects.first { $0.object["kind"] as? String == "StatefulSet" })
        let yaml = YAMLPath(file: statefulSet.file)
        let spec = try yaml.mapping(statefulSet.object["spec"], "spec")
        #expect(try yaml.int(spec["replicas"], "spec.replicas") == 1, "a run has exactly one coordinator")

        // The claim template's volume is mounted at /data, where state and identity live.
        let templates = try yaml.sequence(spec["volumeClaimTemplates"], "spec.volumeClaimTemplates")
        try #require(templates.count == 1)
        let claim = try yaml.mapping(templates[0], "spec.volumeClaimTemplates[0]")
        let claimName = try yaml.string(try yaml.mapping(claim["metadata"], "claim metadata")["name"], "claim name")
        let claimSpec = try yaml.mapping(claim["spec"], "claim spec")
        #expect(try yaml.strings(claimSpec["accessModes"], "claim accessModes").contains("ReadWriteOnce"))
        let storage = try yaml.mapping(try yaml.mapping(claimSpec["resources"], "claim resources")["requests"], "claim requests")["storage"]
        #expect(storage is String, "the claim requests no storage size")

        let containers = try KubernetesObjects.containers(of: statefulSet.object, yaml: yaml)
        try #require(containers.count == 1)
        let (path, container) = containers[0]
        let mounts = try yaml.sequence(container["volumeMounts"], "\(path).volumeMounts")
            .map { try yaml.mapping($0, "\(path).volumeMounts[]") }
        #expect(mounts.contains { $0["name"] as? String == claimName && $0["mountPath"] as? String == "/data" },
                "the claim \(claimName) should be mounted at /data")

        let command = try #require(try InvocationCollector.kubernetes().first { $0.source.hasSuffix(path) })
        #expect(command.subcommandPath == ["coordinator"])
        #expect(command.values(of: "--http") == ["0.0.0.0:8080"], "probes and the Service reach the dashboard only on 0.0.0.0")
        #expect(command.values(of: "--listen") == ["0.0.0.0:7000"])
        for option in ["--state-dir", "--identity"] {
            for value in command.values(of: option) {
                #expect(value.hasPrefix("/data/"), "\(option) \(value) is not on the persistent volume")
            }
        }

        // Both probes ask /api/status on port 8080 (by number or by the port's name).
        let ports = try containerPorts(container, path: path, yaml: yaml)
        #expect(ports["dht"] == 7000 || ports.values.contains(7000), "the container should declare port 7000")
        for probeName in ["livenessProbe", "readinessProbe"] {
            let probe = try yaml.mapping(container[probeName], "\(path).\(probeName)")
            let get = try yaml.mapping(probe["httpGet"], "\(path).\(probeName).httpGet")
            #expect(get["path"] as? String == "/api/status", "\(probeName) should ask /api/status")
            let port = (get["port"] as? Int) ?? (get["port"] as? String).flatMap { ports[$0] }
            #expect(port == 8080, "\(probeName) should ask port 8080, asks \(String(describing: get["port"]))")
        }
        try expectResources(container, path: path, yaml: yaml)
        try expectSelectorMatchesTemplate(statefulSet.object, yaml: yaml)

        // The Service the StatefulSet names carries 7000 and 8080 and selects its pods.
        let serviceName = try yaml.string(spec["serviceName"], "spec.serviceName")
        let service = try #require(objects.first {
            $0.object["kind"] as? String == "Service"
                && ($0.object["metadata"] as? [String: Any])?["name"] as? String == serviceName
        }, "no Service named \(serviceName)")
        let serviceYAML = YAMLPath(file: service.file)
        let serviceSpec = try serviceYAML.mapping(service.object["spec"], "spec")
        let servicePorts = try serviceYAML.sequence(serviceSpec["ports"], "spec.ports").map { try serviceYAML.mapping($0, "spec.ports[]") }
        let numbers = Set(servicePorts.compactMap { $0["port"] as? Int })
        #expect(numbers.isSuperset(of: [7000, 8080]), "the Service should carry ports 7000 and 8080, has \(numbers)")
        for servicePort in servicePorts {
            #expect(servicePort["protocol"] as? String ?? "TCP" == "TCP")
            if let target = servicePort["targetPort"] as? String {
                #expect(ports[target] != nil, "the Service's targetPort \(target) is not a port of the coordinator container")
            }
        }
        let selector = try serviceYAML.mapping(serviceSpec["selector"], "spec.selector")
        let podLabels = try templateLabels(statefulSet.object, yaml: yaml)
        for (key, value) in selector {
            #expect(podLabels[key] as? String == value as? String, "the Service's selector \(key)=\(value) does not select the coordinator")
        }

        // The peers join through this Service.
        let peers = try InvocationCollector.kubernetes().filter { $0.subcommandPath == ["peer"] }
        try #require(!peers.isEmpty, "no peer Deployment")
        for peer in peers {
            #expect(peer.values(of: "--join") == ["\(serviceName):7000"], "\(peer.source) should join \(serviceName):7000")
        }
    }

    @Test func peersAreAScalableDeploymentThatAnnouncesThePodIP() throws {
        let objects = try kubernetesObjects()
        let deployment = try #require(objects.first { $0.object["kind"] as? String == "Deployment" })
        let yaml = YAMLPath(file: deployment.file)
        let spec = try yaml.mapping(deployment.object["spec"], "spec")
        #expect(try yaml.int(spec["replicas"], "spec.replicas") >= 1)
        try expectSelectorMatchesTemplate(deployment.object, yaml: yaml)

        let containers = try KubernetesObjects.containers(of: deployment.object, yaml: yaml)
        try #require(containers.count == 1)
        let (path, container) = containers[0]
        let command = try #require(try InvocationCollector.kubernetes().first { $0.source.hasSuffix(path) })
        #expect(command.subcommandPath == ["peer"])
        #expect(command.values(of: "--listen") == ["0.0.0.0:7001"], "peers listen on a fixed port others can dial")

        // --announce $(VAR), with VAR the pod IP from the downward API.
        let announce = try #require(command.values(of: "--announce").first, "peers must announce their pod IP")
        #expect(announce.hasPrefix("$(") && announce.hasSuffix(")"), "--announce should be $(POD_IP)-style, is \(announce)")
        let variable = String(announce.dropFirst(2).dropLast())
        let env = try yaml.sequence(container["env"], "\(path).env").map { try yaml.mapping($0, "\(path).env[]") }
        let entry = try #require(env.first { $0["name"] as? String == variable }, "\(path) does not define \(variable)")
        let fieldPath = ((entry["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String
        #expect(fieldPath == "status.podIP", "\(variable) should come from fieldRef status.podIP")

        let ports = try containerPorts(container, path: path, yaml: yaml)
        #expect(ports.values.contains(7001), "the peer container should declare containerPort 7001")
        try expectResources(container, path: path, yaml: yaml)
    }

    // MARK: systemd

    @Test func volunteerUnitIsHardenedAndReadsItsEnvironmentFile() throws {
        let file = "deploy/systemd/cohort-peer.service"
        let unit = try DeployFiles.parseUnit(try DeployFiles.text(file))
        #expect(unit.sections.keys.sorted() == ["Install", "Service", "Unit"])
        #expect(unit.value("Unit", "Description")?.isEmpty == false)
        #expect(unit.values("Unit", "After").joined(separator: " ").contains("network-online.target"))
        #expect(unit.value("Install", "WantedBy") == "multi-user.target")

        #expect(unit.value("Service", "Restart") == "on-failure")
        #expect(unit.value("Service", "RestartSec") != nil)
        #expect(unit.value("Service", "StateDirectory") == "cohort")
        #expect(unit.value("Service", "DynamicUser") == "yes" || unit.value("Service", "User") != nil, "the peer must not run as root")
        for (key, value) in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes")] {
            #expect(unit.value("Service", key) == value, "\(key) should be \(value)")
        }
        #expect(unit.values("Service", "ExecStart").count == 1)

        let environmentFiles = unit.values("Service", "EnvironmentFile")
        #expect(environmentFiles == ["/etc/cohort/peer.env"])

        let command = try #require(try InvocationCollector.systemd().first { $0.source.hasPrefix(file) })
        #expect(command.subcommandPath == ["peer"])
        #expect(command.values(of: "--identity") == ["/var/lib/cohort/identity"], "the key lives in the StateDirectory")
        #expect(command.options.contains { $0.name == "--client-mode" && $0.value == nil })
        #expect(command.values(of: "--join") == ["${COHORT_JOIN}"])

        // Every variable ExecStart uses is set in the example environment file.
        let example = try DeployFiles.parseEnvironmentFile(try DeployFiles.text("deploy/systemd/peer.env.example"))
        let execStart = try #require(unit.value("Service", "ExecStart"))
        let used = try NSRegularExpression(pattern: #"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"#)
            .matches(in: execStart, range: NSRange(execStart.startIndex..., in: execStart))
            .compactMap { Range($0.range(at: 1), in: execStart).map { String(execStart[$0]) } }
        #expect(used.contains("COHORT_JOIN"))
        for variable in used {
            #expect(example[variable] != nil, "ExecStart uses \(variable), which peer.env.example does not set")
        }
        #expect(example["COHORT_JOIN"]?.contains(":") == true, "COHORT_JOIN should be HOST:PORT")
    }

    // MARK: Dockerfile

    @Test func dockerfileBuildsStaticallyAndRunsAsANonRootUser() throws {
        let dockerfile = try DeployFiles.parseDockerfile(try DeployFiles.text("deploy/Dockerfile"))
        try #require(dockerfile.stages.count >= 2, "the Dockerfile should have a build stage and a runtime stage")
        let build = dockerfile.stages[0], runtime = dockerfile.stages[dockerfile.stages.count - 1]
        let stageNames = Set(dockerfile.stages.compactMap(\.name))

        #expect(build.image.hasPrefix("swift:"), "the build stage should start from the official Swift image, not \(build.image)")
        let buildRuns = build.all("RUN").map(\.arguments).joined(separator: "\n")
        #expect(buildRuns.contains("libopenblas-dev") && buildRuns.contains("pkg-config"))
        #expect(buildRuns.contains("swift build -c release --static-swift-stdlib"))

        #expect(runtime.image.hasPrefix("debian:") && runtime.image.hasSuffix("-slim"), "runtime image \(runtime.image)")
        let runtimeRuns = runtime.all("RUN").map(\.arguments).joined(separator: "\n")
        #expect(runtimeRuns.contains("libopenblas0"))
        #expect(!runtimeRuns.contains("libopenblas-dev"), "the runtime stage needs only the runtime library")

        // The binary and its resources bundle come from an earlier stage and sit side by side.
        let copies = runtime.all("COPY").map(\.arguments)
        var destinations: [String] = []
        for copy in copies where copy.hasPrefix("--from=") {
            let words = copy.split(separator: " ").map(String.init)
            let from = String(words[0].dropFirst("--from=".count))
            #expect(stageNames.contains(from), "COPY --from=\(from) names no stage of this Dockerfile")
            destinations.append(words.last ?? "")
        }
        let binary = try #require(destinations.first { $0.hasSuffix("/cohort") }, "the runtime stage does not copy the cohort binary")
        let folder = (binary as NSString).deletingLastPathComponent
        #expect(destinations.contains { $0.hasPrefix(folder + "/") && $0.hasSuffix("Cohort_cohort.resources") },
                "the resources bundle must be copied next to the binary in \(folder)")

        let user = try #require(runtime.all("USER").last?.arguments, "the runtime stage runs as root")
        #expect(!["root", "0"].contains(String(user.split(separator: ":")[0])), "USER \(user) is root")
        #expect(try runtime.all("ENTRYPOINT").last.map(DeployFiles.execForm) == ["cohort"])
        let exposed = Set(runtime.all("EXPOSE").flatMap { $0.arguments.split(separator: " ").map { String($0.split(separator: "/")[0]) } })
        #expect(exposed.isSuperset(of: ["7000", "8080"]), "EXPOSE \(exposed)")
        let volumes = runtime.all("VOLUME").map(\.arguments).joined(separator: " ")
        #expect(volumes.contains("/data"))
    }

    // MARK: the commands against the executable

    @Test func everyManifestRunsCohortWithWellFormedOptions() throws {
        let invocations = try InvocationCollector.all()
        let paths = Set(invocations.map { $0.subcommandPath.joined(separator: " ") })
        #expect(paths.isSuperset(of: ["coordinator", "peer"]), "found subcommands \(paths)")
        for invocation in invocations {
            for option in invocation.options {
                #expect(option.name.dropFirst(2).allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" },
                        "\(invocation): \(option.name) is not a --lower-case option")
                // Endpoints are HOST:PORT with a numeric port, or a placeholder filled at run time.
                if ["--join", "--listen", "--http"].contains(option.name), let value = option.value, !isPlaceholder(value) {
                    let port = value.split(separator: ":").last.map(String.init) ?? ""
                    #expect(value.contains(":") && UInt16(port) != nil, "\(invocation): \(option.name) \(value) is not HOST:PORT")
                }
            }
        }
    }

    /// `coordinator` and `peer` are being added to the executable; until the built one has
    /// them, their tests are skipped with a message saying so, and then they check by themselves.
    @Test(.enabled(if: CLI.has(["coordinator"]),
                   "the built .build/debug/cohort has no `coordinator` subcommand yet, so its options in deploy/ are checked only against the agreed synopsis"))
    func coordinatorOptionsExistInTheBuiltExecutable() throws {
        try checkOptions(of: ["coordinator"])
    }

    @Test(.enabled(if: CLI.has(["peer"]),
                   "the built .build/debug/cohort has no `peer` subcommand yet, so its options in deploy/ are checked only against the agreed synopsis"))
    func peerOptionsExistInTheBuiltExecutable() throws {
        try checkOptions(of: ["peer"])
    }

    /// Every other subcommand the files use (`dht node`, `bench train`, the bare `--help`) must
    /// exist already: a missing one is a mistake in the files, not work in progress.
    @Test(.enabled(if: CommandHelp.executable != nil, ".build/debug/cohort is not built (swift build builds it)"),
          arguments: try InvocationCollector.all().map { $0.subcommandPath }.filter { !CLI.beingBuilt.contains($0) }
              .map { $0.joined(separator: " ") }.uniqued())
    func otherSubcommandsAndOptionsExistInTheBuiltExecutable(subcommand: String) throws {
        try checkOptions(of: subcommand.split(separator: " ").map(String.init))
    }

    private func checkOptions(of path: [String]) throws {
        let subcommand = path.joined(separator: " ")
        let invocations = try InvocationCollector.all().filter { $0.subcommandPath == path }
        try #require(!invocations.isEmpty, "no file in deploy/ runs `cohort \(subcommand)`")
        let executable = try #require(CommandHelp.executable, ".build/debug/cohort is not built")
        let help = try CommandHelp.load(path, executable: executable)
        try #require(help.path == path, """
            the built cohort has no `\(subcommand)` subcommand, used by \(invocations.map(\.source).joined(separator: ", "))
            """)
        checkOptions(of: invocations, against: help)
    }

    private func checkOptions(of invocations: [Invocation], against help: CommandHelp) {
        let subcommand = help.path.joined(separator: " ")
        for invocation in invocations {
            for option in invocation.options {
                guard let takesValue = help.options[option.name] else {
                    Issue.record("\(invocation): `cohort \(subcommand) --help` has no \(option.name)")
                    continue
                }
                if takesValue {
                    #expect(option.value != nil, "\(invocation): \(option.name) needs a value")
                } else {
                    #expect(option.value == nil, "\(invocation): \(option.name) is a flag but is followed by \(option.value ?? "")")
                }
            }
        }
    }

    /// Until the executable has `coordinator` and `peer`, the files are held against the
    /// command lines agreed for them, written as ArgumentParser would print their usage. This
    /// also exercises the help parser the checks above rely on.
    @Test func coordinatorAndPeerCommandsMatchTheAgreedSynopsis() throws {
        let coordinator = CommandHelp(text: """
            USAGE: cohort coordinator --run <run> [--listen <listen>] [--http <http>] [--announce <announce>] \
            [--state-dir <state-dir>] [--identity <identity>] [--preset <preset>] [--target-batch <target-batch>] \
            [--temperature <temperature>] [--compression <compression>] [--aggregation <aggregation>] \
            [--checkpoint-every <checkpoint-every>] [--keep <keep>] [--config <config>] [--open]
            """)
        let peer = CommandHelp(text: """
            USAGE: cohort peer --join <join> ... [--listen <listen>] [--announce <announce>] [--client-mode] \
            [--data <data>] [--threads <threads>] [--max-batch <max-batch>] [--identity <identity>] [--run <run>] \
            [--coordinator-key <coordinator-key>] [--token <token>] [--print-key]
            """)
        #expect(coordinator.path == ["coordinator"] && peer.path == ["peer"])
        #expect(peer.options["--client-mode"] == false && peer.options["--join"] == true)
        let invocations = try InvocationCollector.all()
        for help in [coordinator, peer] {
            let matching = invocations.filter { $0.subcommandPath == help.path }
            #expect(!matching.isEmpty)
            checkOptions(of: matching, against: help)
        }
    }

    // MARK: helpers

    private func isPlaceholder(_ value: String) -> Bool { value.contains("$") }

    private func kubernetesObjects() throws -> [(file: String, object: [String: Any])] {
        var result: [(String, [String: Any])] = []
        for name in try DeployFiles.kubernetesFileNames() where name != "kustomization.yaml" {
            let file = "deploy/kubernetes/\(name)"
            let yaml = YAMLPath(file: file)
            for document in try DeployFiles.yamlDocuments(file) {
                result.append((file, try yaml.mapping(document, "document")))
            }
        }
        return result
    }

    /// containerPort by port name (unnamed ports under their number as text).
    private func containerPorts(_ container: [String: Any], path: String, yaml: YAMLPath) throws -> [String: Int] {
        var ports: [String: Int] = [:]
        for value in try yaml.sequence(container["ports"], "\(path).ports") {
            let port = try yaml.mapping(value, "\(path).ports[]")
            let number = try yaml.int(port["containerPort"], "\(path).ports[].containerPort")
            ports[port["name"] as? String ?? String(number)] = number
        }
        return ports
    }

    private func expectResources(_ container: [String: Any], path: String, yaml: YAMLPath) throws {
        let resources = try yaml.mapping(container["resources"], "\(path).resources")
        for kind in ["requests", "limits"] {
            let values = try yaml.mapping(resources[kind], "\(path).resources.\(kind)")
            #expect(values["cpu"] != nil && values["memory"] != nil, "\(path).resources.\(kind) should set cpu and memory")
            if let memory = values["memory"] as? String {
                #expect(memory.hasSuffix("Mi") || memory.hasSuffix("Gi"), "\(path) memory \(memory) should be in Mi or Gi")
            }
        }
    }

    private func templateLabels(_ object: [String: Any], yaml: YAMLPath) throws -> [String: Any] {
        let template = try yaml.mapping(try yaml.mapping(object["spec"], "spec")["template"], "spec.template")
        return try yaml.mapping(try yaml.mapping(template["metadata"], "spec.template.metadata")["labels"], "template labels")
    }

    private func expectSelectorMatchesTemplate(_ object: [String: Any], yaml: YAMLPath) throws {
        let spec = try yaml.mapping(object["spec"], "spec")
        let selector = try yaml.mapping(try yaml.mapping(spec["selector"], "spec.selector")["matchLabels"], "spec.selector.matchLabels")
        let labels = try templateLabels(object, yaml: yaml)
        for (key, value) in selector {
            #expect(labels[key] as? String == value as? String, "selector \(key)=\(value) does not match the pod template's labels")
        }
    }
}

/// The built executable, asked through `--help`.
enum CLI {
    /// Subcommands that are being added to the executable while deploy/ already uses them.
    static let beingBuilt: Set<[String]> = [["coordinator"], ["peer"]]

    /// Whether the built executable has this subcommand (false when it is not built).
    static func has(_ path: [String]) -> Bool {
        guard let executable = CommandHelp.executable, let help = try? CommandHelp.load(path, executable: executable) else {
            return false
        }
        return help.path == path
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
