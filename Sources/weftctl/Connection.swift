import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore
import WeftLogging

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

/// Where weftd is and how to talk to it: flags, then the environment, then ~/.config/weft/config (`addr`,
/// `token` or `token_file`, `ca_file`), then weftd's own defaults on its host.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "weftd's admin API: host:port or https://host:port (WEFT_ADDR; default 127.0.0.1:15443).")
    var addr: String?

    @Option(help: "Admin API token (WEFT_TOKEN).")
    var token: String?

    @Option(
        name: .customLong("token-file"),
        help: "Read the token from this file (WEFT_TOKEN_FILE; default: weftd's bootstrap token, when readable).")
    var tokenFile: String?

    @Option(
        name: .customLong("ca-file"),
        help: "PEM file of the CA that signed weftd's certificate: the mesh trust bundle (WEFT_CA_FILE).")
    var caFile: String?

    @Option(name: [.customShort("o"), .long], help: "Output: table or json.")
    var output: OutputFormat = .table

    @Option(help: "Diagnostics on standard error: trace, debug, info, notice, warning (default), error or critical.")
    var logLevel = "warning"

    @Option(help: "Diagnostics as text, or json (one object a line).")
    var logFormat = "text"

    static let defaultAddress = "127.0.0.1:\(WeftPort.adminAPI.rawValue)"
    /// weftd writes the trust bundle here by default; used when no CA file is given and it exists.
    static let defaultCAFile = "/var/lib/weftd/trust-bundle.pem"
    /// weftd writes its bootstrap token here by default; used when no token is given and it is readable.
    static let defaultTokenFile = "/var/lib/weftd/admin-token"

    /// A setting and where it came from, for error messages.
    struct Setting {
        var value: String
        var source: String
    }

    struct Resolved {
        var address: String
        var token: Setting?
        var caFile: String?
    }

    static var configPath: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".config/weft/config")
    }

    func resolve() throws -> Resolved {
        do { try LoggingSettings(level: logLevel, format: logFormat).bootstrap() } catch {
            throw ValidationError(error.description)
        }
        let environment = ProcessInfo.processInfo.environment
        let file = try Self.readConfigFile()
        func pick(_ flag: String?, _ flagName: String, _ variable: String, _ key: String) -> Setting? {
            if let flag, !flag.isEmpty { return Setting(value: flag, source: flagName) }
            if let value = environment[variable], !value.isEmpty { return Setting(value: value, source: variable) }
            if let value = file[key], !value.isEmpty {
                return Setting(value: value, source: "\(key) in \(Self.configPath)")
            }
            return nil
        }
        let address = pick(addr, "--addr", "WEFT_ADDR", "addr")?.value ?? Self.defaultAddress
        var caFile = pick(caFile, "--ca-file", "WEFT_CA_FILE", "ca_file")?.value
        if caFile == nil, FileManager.default.isReadableFile(atPath: Self.defaultCAFile) { caFile = Self.defaultCAFile }
        var resolvedToken = pick(token, "--token", "WEFT_TOKEN", "token")
        if resolvedToken == nil {
            let file =
                pick(tokenFile, "--token-file", "WEFT_TOKEN_FILE", "token_file")
                ?? (FileManager.default.isReadableFile(atPath: Self.defaultTokenFile)
                    ? Setting(value: Self.defaultTokenFile, source: "weftd's bootstrap token") : nil)
            if let file {
                guard let text = try? String(contentsOfFile: file.value, encoding: .utf8) else {
                    throw CLIError("cannot read the token file \(file.value) (from \(file.source))")
                }
                resolvedToken = Setting(value: text.trimmingCharacters(in: .whitespacesAndNewlines), source: file.value)
            }
        }
        return Resolved(address: try Self.baseURL(address), token: resolvedToken, caFile: caFile)
    }

    /// `host:port`, `host` or a URL → `https://host:port` (or the URL's own scheme).
    static func baseURL(_ address: String) throws -> String {
        var text = address.trimmingCharacters(in: .whitespaces)
        if !text.contains("://") { text = "https://" + text }
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            throw CLIError("'\(address)' is not an address: use host:port or https://host:port")
        }
        let port = url.port ?? Int(WeftPort.adminAPI.rawValue)
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)"
    }

    /// The keys of ~/.config/weft/config; an absent file is no error.
    static func readConfigFile() throws -> [String: String] {
        let path = configPath
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            var reader = try SettingsReader(parsing: text, file: path)
            var values: [String: String] = [:]
            for key in ["addr", "token", "token_file", "ca_file"] { values[key] = try reader.string(key) }
            try reader.finish()
            return values
        } catch {
            throw CLIError(error.description)
        }
    }

    /// Runs `body` with a client, then shuts the client down; turns every failure into a message that says what
    /// to do, on stderr, and exit status 1.
    func withClient<T>(needsToken: Bool = true, _ body: (AdminClient) async throws -> T) async throws -> T {
        let resolved: Resolved
        do { resolved = try resolve() } catch let error as CLIError { throw error.exit() }
        if needsToken && resolved.token == nil {
            throw CLIError(
                "no token: pass --token or --token-file, set WEFT_TOKEN or WEFT_TOKEN_FILE, or put token = \"…\" or token_file = \"…\" in ~/.config/weft/config (weftd wrote a bootstrap token to its data directory, /var/lib/weftd/admin-token by default)"
            ).exit()
        }
        let client: AdminClient
        do {
            client = try AdminClient(baseURL: resolved.address, token: resolved.token?.value, caFile: resolved.caFile)
        } catch {
            throw CLIError("\(error)").exit()
        }
        do {
            let value = try await body(client)
            try? await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            if let error = error as? ExitCode { throw error }
            throw CLIError.explaining(error, token: resolved.token).exit()
        }
    }
}

/// A message for the person at the terminal.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    /// Prints the message to stderr and returns the exit code to throw.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("weftctl: \(description)\n".utf8))
        return ExitCode(1)
    }

    static func explaining(_ error: any Error, token: ConnectionOptions.Setting?) -> CLIError {
        guard let error = error as? AdminClientError else {
            return (error as? CLIError) ?? CLIError("\(error)")
        }
        switch error {
        case .server(.unauthorized, let message, _, _):
            return CLIError("\(message) [the token came from \(token?.source ?? "nowhere")]")
        case .server(.conflict, let message, _, _):
            return CLIError("\(message)\nsomeone changed it since it was read: run the command again")
        case .server(let status, let message, _, _) where status.code >= 500:
            return CLIError("weftd failed: \(message)")
        case .server(_, let message, _, _):
            return CLIError(message)
        case .unreachable:
            return CLIError("\(error) (set the address with --addr, WEFT_ADDR or addr in ~/.config/weft/config)")
        default:
            return CLIError("\(error)")
        }
    }
}

/// Reads an ISO-ish duration: `90s`, `30m`, `1h`, `1h30m`, `2d`, or plain seconds.
func parseDuration(_ text: String) -> Int? {
    if let seconds = Int(text) { return seconds }
    var total = 0
    var number = ""
    for character in text {
        if character.isNumber {
            number.append(character)
            continue
        }
        guard let value = Int(number) else { return nil }
        switch character {
        case "s": total += value
        case "m": total += value * 60
        case "h": total += value * 3600
        case "d": total += value * 86400
        default: return nil
        }
        number = ""
    }
    return number.isEmpty && total > 0 ? total : nil
}

func parseSelector(_ text: String, what: String) throws -> ServiceSelector {
    do { return try ServiceSelector(parsing: text) } catch {
        throw ValidationError("\(what) '\(text)': \(error.description) (use *, name or namespace/name)")
    }
}

func parseServiceName(_ text: String) throws -> ServiceName {
    do { return try ServiceName(parsing: text) } catch {
        throw ValidationError("service '\(text)': \(error.description) (use name or namespace/name)")
    }
}
