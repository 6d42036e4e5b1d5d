import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One `/etc/weft/services.d/*.toml` file: how a local service is named and described, overriding discovery.
///
/// ```toml
/// name = "backend"            # required, a DNS label
/// namespace = "default"
/// unit = "backend-v2.service" # which sockets are this service; default "<name>.service"
/// # or: cgroup = "system.slice/x.service" (from the cgroup2 root, and the cgroups below it)   or: uid = 1001
/// ports = [8080, 8443]        # restricts discovery to these ports, and declares them even before they listen
/// protocol = "http"           # tcp | http | http2 | grpc
/// [labels]
/// version = "v2"
/// ```
public struct ServiceOverride: Sendable, Equatable {
    public enum Matcher: Sendable, Equatable {
        case unit(String)
        case cgroup(String)
        case uid(UInt32)
    }

    public var name: String
    public var namespace: String
    public var matcher: Matcher
    public var ports: [UInt16]?
    public var `protocol`: ServiceProtocol?
    public var labels: [String: String]
    /// The file it came from.
    public var file: String

    /// True when a socket of a process in `entry` (a trusted `unit`, when it is one) running as `uid` belongs to the
    /// service. A cgroup matcher is anchored at the cgroup2 root and takes the cgroups below it too.
    public func matches(entry: CgroupEntry, unit: String?, uid: UInt32) -> Bool {
        switch matcher {
        case .unit(let expected):
            return unit == expected
        case .cgroup(let path):
            let anchored = CgroupIdentityRules.normalized(path)
            let actual = CgroupIdentityRules.normalized(entry.path)
            return actual == anchored || actual.hasPrefix(anchored + "/")
        case .uid(let expected):
            return uid == expected
        }
    }
}

public enum ServiceOverrideLoader {
    public static let defaultDirectory = "/etc/weft/services.d"

    /// Loads every `*.toml` file of `directory` in name order. A broken file is reported and skipped; the others
    /// still load. A missing directory is no error (no overrides).
    public static func load(directory: String = defaultDirectory) -> (
        overrides: [ServiceOverride], errors: [SettingsError]
    ) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return ([], []) }
        var overrides: [ServiceOverride] = []
        var errors: [SettingsError] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".toml") {
            let path = directory + "/" + name
            do {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw SettingsError(file: path, line: 1, problem: "cannot read the file as UTF-8 text")
                }
                let override = try parse(text, file: path)
                let key = override.namespace + "/" + override.name
                if let other = seen[key] {
                    throw SettingsError(file: path, line: 1, problem: "service \(key) is already defined in \(other)")
                }
                seen[key] = path
                overrides.append(override)
            } catch let error as SettingsError {
                errors.append(error)
            } catch {
                errors.append(SettingsError(file: path, line: 1, problem: "\(error)"))
            }
        }
        return (overrides, errors)
    }

    /// Parses one file's text.
    public static func parse(_ text: String, file: String) throws(SettingsError) -> ServiceOverride {
        var reader = try SettingsReader(parsing: text, file: file)
        guard let name = try reader.string("name") else { throw reader.missing("name") }
        do { try DNSLabel.validate(name) } catch { throw reader.error("name", error.description) }
        let namespace = try reader.string("namespace") ?? "default"
        do { try DNSLabel.validate(namespace) } catch { throw reader.error("namespace", error.description) }

        let matchers = ["unit", "cgroup", "uid"].filter(reader.contains)
        if matchers.count > 1 {
            throw reader.error(
                matchers[1], "use only one of unit, cgroup and uid (found \(matchers.joined(separator: " and ")))")
        }
        var matcher = ServiceOverride.Matcher.unit(name + ".service")
        if let unit = try reader.string("unit") {
            guard unit.hasSuffix(".service"), !unit.contains("/") else {
                throw reader.error("unit", "'\(unit)' must be a systemd service unit name such as \(name).service")
            }
            matcher = .unit(unit)
        }
        if let cgroup = try reader.string("cgroup") {
            guard !cgroup.isEmpty else { throw reader.error("cgroup", "must not be empty") }
            matcher = .cgroup(cgroup.hasPrefix("/") ? String(cgroup.dropFirst()) : cgroup)
        }
        if let uid = try reader.integer("uid", as: UInt32.self) { matcher = .uid(uid) }
        let ports = try reader.ports("ports")
        let serviceProtocol = try reader.choice("protocol", as: ServiceProtocol.self)
        let labels = try reader.stringTable("labels") ?? [:]
        try reader.finish()
        return ServiceOverride(
            name: name, namespace: namespace, matcher: matcher, ports: ports, protocol: serviceProtocol,
            labels: labels, file: file)
    }
}
