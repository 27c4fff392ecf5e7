"""How the browser tests act as a user: click a control wherever it is on a long page,
replace a field's text so that React sees the change, pick a dropdown's option."""

from __future__ import annotations

from typing import Any

from dash.testing.wait import until
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


def pick(browser: Any, dropdown_id: str, label: str) -> None:
    """Choose the option of a Dash dropdown with this label. Dropdowns lower on a page lie
    below the headless browser's first screen, which WebDriver does not scroll to: the
    dropdown is opened and the option chosen by script, as a click would."""
    browser.driver.execute_script("arguments[0].click();", browser.find_element(f"#{dropdown_id}"))
    until(lambda: browser.find_elements(".dash-dropdown-option"), timeout=5)
    option = next(
        element
        for element in browser.find_elements(".dash-dropdown-option")
        if element.text == label
    )
    browser.driver.execute_script("arguments[0].click();", option)
