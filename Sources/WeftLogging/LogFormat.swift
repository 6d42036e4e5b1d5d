/// How log lines are written: `text` for a terminal, `json` (one object a line) for journald and collectors.
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}
