//! The exports(5) reader: a zero-copy lexer over the file's text and the line grammar.
//!
//! Lexical rules (see the module docs of [`super`] for the grammar):
//! - a token ends at a blank (space, tab, CR), a newline, a `#` or a line continuation;
//! - `#` outside quotes starts a comment that runs to the end of the *physical* line (a
//!   backslash at the end of a comment does not continue it);
//! - a backslash immediately followed by a newline (LF or CRLF) continues the logical line and
//!   separates tokens, as Linux's reader turns it into a blank; a token cannot span lines;
//! - any other backslash is refused ([`ErrorKind::UnsupportedEscape`]): the reader borrows
//!   the text and cannot decode Linux's `\ooo` octal escapes (quote the path instead);
//! - a path may be quoted as a whole (`"/with space"`); the quotes must close on the same
//!   line and be followed by a blank, a comment or the end of the line.

use super::pattern::{MAX_PATTERN, Pattern};
use super::{ClientEntry, ErrorKind, ExportEntry, Exports, MAX_PATH, Options, ParseError, components};

/// A token: its text (inside the quotes if quoted) and where it starts.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    quoted: bool,
    line: u32,
    offset: usize,
}

impl Token<'_> {
    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError { line: self.line, offset: self.offset, kind }
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

impl<'a> Lexer<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError { line: self.line, offset: self.pos, kind }
    }

    /// Length of the line continuation at `at` (`\` + LF or `\` + CR LF), 0 when there is none.
    fn continuation(&self, at: usize) -> usize {
        let rest = self.text.as_bytes().get(at..).unwrap_or_default();
        if rest.starts_with(b"\\\n") {
            2
        } else if rest.starts_with(b"\\\r\n") {
            3
        } else {
            0
        }
    }

    /// The next token of the current logical line; `None` at its end (the newline is consumed)
    /// or at the end of the text.
    fn next_token(&mut self) -> Result<Option<Token<'a>>, ParseError> {
        let bytes = self.text.as_bytes();
        loop {
            let Some(&b) = bytes.get(self.pos) else { return Ok(None) };
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(None);
                }
                b'#' => {
                    self.pos = self.text[self.pos..].find('\n').map_or(self.text.len(), |i| self.pos + i);
                }
                b'\\' => match self.continuation(self.pos) {
                    0 => return Err(self.error(ErrorKind::UnsupportedEscape)),
                    n => {
                        self.pos += n;
                        self.line += 1;
                    }
                },
                b'"' => return self.quoted().map(Some),
                b if is_blank(b) => self.pos += 1,
                _ => return self.bare().map(Some),
            }
        }
    }

    fn bare(&mut self) -> Result<Token<'a>, ParseError> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b'\n' | b'#' => break,
                b'"' => return Err(self.error(ErrorKind::BadQuote)),
                b'\\' if self.continuation(self.pos) > 0 => break,
                b'\\' => return Err(self.error(ErrorKind::UnsupportedEscape)),
                b if is_blank(b) => break,
                _ => self.pos += 1,
            }
        }
        Ok(Token { text: &self.text[start..self.pos], quoted: false, line: self.line, offset: start })
    }

    fn quoted(&mut self) -> Result<Token<'a>, ParseError> {
        let start = self.pos;
        let body = &self.text[start + 1..];
        let end = body.find(['"', '\n']).filter(|&i| body.as_bytes()[i] == b'"');
        let Some(len) = end else {
            return Err(ParseError { line: self.line, offset: start, kind: ErrorKind::UnterminatedQuote });
        };
        let text = &body[..len];
        if let Some(i) = text.find('\\') {
            return Err(ParseError { line: self.line, offset: start + 1 + i, kind: ErrorKind::UnsupportedEscape });
        }
        self.pos = start + 1 + len + 1;
        match self.text.as_bytes().get(self.pos) {
            None | Some(b'\n' | b'#') => {}
            Some(&b) if is_blank(b) => {}
            Some(b'\\') if self.continuation(self.pos) > 0 => {}
            Some(_) => return Err(self.error(ErrorKind::BadQuote)),
        }
        Ok(Token { text, quoted: true, line: self.line, offset: start })
    }
}

/// Parses a whole exports file into `table` (which must be empty).
pub(super) fn parse_into<'a, const E: usize, const C: usize>(
    text: &'a str,
    table: &mut Exports<'a, E, C>,
) -> Result<(), ParseError> {
    let mut lx = Lexer { text, pos: 0, line: 1 };
    while !lx.at_end() {
        let Some(path) = lx.next_token()? else { continue };
        parse_line(&mut lx, path, table)?;
    }
    Ok(())
}

fn check_path(tok: &Token<'_>) -> Result<(), ErrorKind> {
    let p = tok.text;
    if p.is_empty() || (!tok.quoted && (p.starts_with('-') || p.contains('('))) {
        return Err(ErrorKind::MissingPath);
    }
    if !p.starts_with('/') {
        return Err(ErrorKind::PathNotAbsolute);
    }
    if p.len() > MAX_PATH {
        return Err(ErrorKind::PathTooLong);
    }
    if p.chars().any(char::is_control) || p.split('/').any(|c| c == "..") {
        return Err(ErrorKind::BadPath);
    }
    Ok(())
}

/// Parses the clients of one line whose path token is `path`.
fn parse_line<'a, const E: usize, const C: usize>(
    lx: &mut Lexer<'a>,
    path: Token<'a>,
    table: &mut Exports<'a, E, C>,
) -> Result<(), ParseError> {
    check_path(&path).map_err(|k| path.error(k))?;
    if table.exports.iter().any(|e| components(e.path).eq(components(path.text))) {
        return Err(path.error(ErrorKind::DuplicatePath));
    }
    let first = table.clients.len();
    let mut defaults = Options::DEFAULT;
    // A `-options` token not yet followed by a client.
    let mut pending: Option<Token<'a>> = None;
    while let Some(tok) = lx.next_token()? {
        if tok.quoted {
            return Err(tok.error(ErrorKind::BadQuote));
        }
        if let Some(list) = tok.text.strip_prefix('-') {
            defaults.apply(list).map_err(|k| tok.error(k))?;
            pending = Some(tok);
            continue;
        }
        pending = None;
        let entry = parse_client(tok.text, defaults).map_err(|k| tok.error(k))?;
        table.clients.push(entry).map_err(|_| tok.error(ErrorKind::TooManyClients))?;
    }
    if table.clients.len() == first {
        // `PATH` or `PATH -options` alone: everyone, with the line's options.
        let entry = ClientEntry { text: "*", pattern: Pattern::Anyone, options: defaults };
        table.clients.push(entry).map_err(|_| path.error(ErrorKind::TooManyClients))?;
    } else if let Some(tok) = pending {
        return Err(tok.error(ErrorKind::MissingClient));
    }
    let entry = ExportEntry { path: path.text, first, count: table.clients.len() - first };
    table.exports.push(entry).map_err(|_| path.error(ErrorKind::TooManyExports))
}

/// Parses `host(options)`, `host` or `(options)`.
fn parse_client(text: &str, defaults: Options) -> Result<ClientEntry<'_>, ErrorKind> {
    let (host, list) = match text.split_once('(') {
        Some((host, rest)) => {
            let list = rest.strip_suffix(')').ok_or(ErrorKind::BadOptionList)?;
            if list.contains(['(', ')']) {
                return Err(ErrorKind::BadOptionList);
            }
            (host, Some(list))
        }
        None if text.contains(')') => return Err(ErrorKind::BadOptionList),
        None => (text, None),
    };
    if host.len() > MAX_PATTERN {
        return Err(ErrorKind::BadClient);
    }
    let pattern = Pattern::parse(host)?;
    let mut options = defaults;
    if let Some(list) = list {
        options.apply(list)?;
    }
    Ok(ClientEntry { text: if host.is_empty() { "*" } else { host }, pattern, options })
}
