//! The scanner: turns source text into tokens on demand, as clox's `scanner.c` does.
//!
//! # Tokens borrow the source
//!
//! A [`Token`] holds a `&str` slice of the source (its lexeme) and its line. The compiler
//! pulls one token at a time ([`Scanner::scan_token`]); nothing is buffered. Errors (an
//! unexpected character, an unterminated string) are tokens of kind [`TokenKind::Error`]
//! whose lexeme is the message, exactly as in clox, so the parser reports them in order.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the variant names are the token names of the book
pub enum TokenKind {
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    Identifier,
    String,
    Number,
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    Error,
    Eof,
}

/// A token: its kind, its text (or an error message), and its line.
#[derive(Clone, Copy, Debug)]
pub struct Token<'s> {
    /// The kind.
    pub kind: TokenKind,
    /// The lexeme, or the message of an [`TokenKind::Error`] token.
    pub lexeme: &'s str,
    /// The 1-based source line.
    pub line: u32,
}

impl<'s> Token<'s> {
    /// A token that does not come from the source (the compiler's `this` and `super`).
    pub fn synthetic(lexeme: &'s str) -> Token<'s> {
        Token { kind: TokenKind::Identifier, lexeme, line: 0 }
    }
}

/// Scans a source string into tokens.
#[derive(Debug)]
pub struct Scanner<'s> {
    source: &'s str,
    start: usize,
    current: usize,
    line: u32,
}

impl<'s> Scanner<'s> {
    /// A scanner at the start of `source`.
    pub fn new(source: &'s str) -> Scanner<'s> {
        Scanner { source, start: 0, current: 0, line: 1 }
    }

    /// The next token ([`TokenKind::Eof`] forever at the end).
    pub fn scan_token(&mut self) -> Token<'s> {
        self.skip_whitespace();
        self.start = self.current;
        let Some(c) = self.advance() else {
            return self.make(TokenKind::Eof);
        };
        use TokenKind as K;
        match c {
            b'(' => self.make(K::LeftParen),
            b')' => self.make(K::RightParen),
            b'{' => self.make(K::LeftBrace),
            b'}' => self.make(K::RightBrace),
            b';' => self.make(K::Semicolon),
            b',' => self.make(K::Comma),
            b'.' => self.make(K::Dot),
            b'-' => self.make(K::Minus),
            b'+' => self.make(K::Plus),
            b'/' => self.make(K::Slash),
            b'*' => self.make(K::Star),
            b'!' => self.make_if_equal(K::BangEqual, K::Bang),
            b'=' => self.make_if_equal(K::EqualEqual, K::Equal),
            b'<' => self.make_if_equal(K::LessEqual, K::Less),
            b'>' => self.make_if_equal(K::GreaterEqual, K::Greater),
            b'"' => self.string(),
            c if c.is_ascii_digit() => self.number(),
            c if is_alpha(c) => self.identifier(),
            _ => self.error("Unexpected character."),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.source.as_bytes().get(self.current).copied()
    }

    fn peek_next(&self) -> Option<u8> {
        self.source.as_bytes().get(self.current + 1).copied()
    }

    fn advance(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.current += 1;
        Some(c)
    }

    fn make(&self, kind: TokenKind) -> Token<'s> {
        Token { kind, lexeme: &self.source[self.start..self.current], line: self.line }
    }

    fn make_if_equal(&mut self, yes: TokenKind, no: TokenKind) -> Token<'s> {
        if self.peek() == Some(b'=') {
            self.current += 1;
            self.make(yes)
        } else {
            self.make(no)
        }
    }

    fn error(&self, message: &'static str) -> Token<'s> {
        Token { kind: TokenKind::Error, lexeme: message, line: self.line }
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\r' | b'\t' => self.current += 1,
                b'\n' => {
                    self.line += 1;
                    self.current += 1;
                }
                b'/' if self.peek_next() == Some(b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.current += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn string(&mut self) -> Token<'s> {
        while let Some(c) = self.peek() {
            if c == b'"' {
                break;
            }
            if c == b'\n' {
                self.line += 1;
            }
            self.current += 1;
        }
        if self.peek().is_none() {
            return self.error("Unterminated string.");
        }
        self.current += 1; // the closing quote
        self.make(TokenKind::String)
    }

    fn number(&mut self) -> Token<'s> {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.current += 1;
        }
        if self.peek() == Some(b'.') && self.peek_next().is_some_and(|c| c.is_ascii_digit()) {
            self.current += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.current += 1;
            }
        }
        self.make(TokenKind::Number)
    }

    fn identifier(&mut self) -> Token<'s> {
        while self.peek().is_some_and(|c| is_alpha(c) || c.is_ascii_digit()) {
            self.current += 1;
        }
        self.make(keyword(&self.source[self.start..self.current]))
    }
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn keyword(text: &str) -> TokenKind {
    use TokenKind as K;
    match text {
        "and" => K::And,
        "class" => K::Class,
        "else" => K::Else,
        "false" => K::False,
        "for" => K::For,
        "fun" => K::Fun,
        "if" => K::If,
        "nil" => K::Nil,
        "or" => K::Or,
        "print" => K::Print,
        "return" => K::Return,
        "super" => K::Super,
        "this" => K::This,
        "true" => K::True,
        "var" => K::Var,
        "while" => K::While,
        _ => K::Identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let mut s = Scanner::new(src);
        let mut out = Vec::new();
        loop {
            let t = s.scan_token();
            out.push(t.kind);
            if t.kind == TokenKind::Eof {
                return out;
            }
        }
    }

    #[test]
    fn scans_operators_keywords_and_literals() {
        use TokenKind as K;
        assert_eq!(
            kinds("var x = 1.5 >= \"a\"; // c\nclass"),
            [K::Var, K::Identifier, K::Equal, K::Number, K::GreaterEqual, K::String, K::Semicolon, K::Class, K::Eof]
        );
    }

    #[test]
    fn counts_lines_and_reports_errors() {
        let mut s = Scanner::new("\n\n\"open");
        let t = s.scan_token();
        assert_eq!((t.kind, t.lexeme, t.line), (TokenKind::Error, "Unterminated string.", 3));
        let mut s = Scanner::new("|");
        assert_eq!(s.scan_token().lexeme, "Unexpected character.");
    }
}
