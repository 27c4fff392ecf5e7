"""How the browser tests act as a user: click a control wherever it is on a long page, and
replace a field's text so that React sees the change."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.keys import Keys


def scroll_to(browser: Any, element: Any) -> Any:
    """Bring `element` to the middle of the window at once (Bootstrap makes scrolling
    smooth, and a click during the animation lands on whatever passes under it)."""
    browser.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    return element


def click(browser: Any, element_id: str) -> None:
    """Click the control with this id, scrolled into view first, as a user would."""
    scroll_to(browser, browser.find_element(f"#{element_id}")).click()


def type_into(browser: Any, element_id: str, text: str) -> None:
    """Replace the field's text as a user would (clear() bypasses React's change event)."""
    element = scroll_to(browser, browser.find_element(f"#{element_id}"))
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)
